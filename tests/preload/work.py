# work.py N: builds and drops about 20*N Python objects, many of them
# larger than pymalloc's 512-byte limit (so they come from malloc): long
# strings, big lists and dicts, JSON round trips, a regex pass, sorting.
# Prints a digest that does not depend on the allocator.
import collections
import hashlib
import json
import random
import re
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
rng = random.Random(42)
h = hashlib.sha256()
window = collections.deque(maxlen=2000)
for i in range(n):
    rec = {
        "id": i,
        "name": "n%07d" % i,
        "text": "".join(rng.choice("abcdefgh ") for _ in range(rng.randint(20, 120))) * 8,
        "vals": [rng.random() for _ in range(rng.randint(1, 90))],
    }
    window.append(rec)
    if i % 997 == 0:
        blob = json.dumps(list(window)[-200:], sort_keys=True)
        back = json.loads(blob)
        h.update(blob.encode())
        h.update(str(len(back)).encode())
words = collections.Counter()
for rec in window:
    words.update(re.findall(r"[a-h]+", rec["text"]))
ranked = sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
table = {("k%d" % i): list(range(i % 50)) for i in range(n // 4)}
total = sum(len(v) for v in table.values())
print(n, h.hexdigest()[:16], ranked, total)
