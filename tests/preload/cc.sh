#!/bin/sh
# cc.sh N: writes a C program of N modules (each a binary tree with its own
# node type) and a main, and builds it with gcc -O2 -g into ./prog. The
# debug information names the build directory as ".", so that builds in
# different directories give the same bytes.
set -eu
n=$1
i=1
calls=""
decls=""
while [ "$i" -le "$n" ]; do
    cat > "mod$i.c" << EOT
#include <stdio.h>
#include <stdlib.h>
struct node$i { int key; char name[32]; struct node$i *left, *right; };
static struct node$i *insert$i(struct node$i *t, int k)
{
    if (!t) {
        t = calloc(1, sizeof *t);
        t->key = k;
        snprintf(t->name, sizeof t->name, "n%d", k);
        return t;
    }
    if (k < t->key)
        t->left = insert$i(t->left, k);
    else
        t->right = insert$i(t->right, k);
    return t;
}
static long sum$i(const struct node$i *t) { return t ? t->key + sum$i(t->left) + sum$i(t->right) : 0; }
long run$i(int n)
{
    struct node$i *t = NULL;
    for (int j = 0; j < n; j++)
        t = insert$i(t, (j * 7919) % (n + $i));
    return sum$i(t);
}
EOT
    decls="$decls long run$i(int);"
    calls="$calls printf(\"%ld\\\\n\", run$i($((i * 300))));"
    i=$((i + 1))
done
printf '#include <stdio.h>\n%s\nint main(void) { %s return 0; }\n' "$decls" "$calls" > main.c
gcc -O2 -g -Wall -Wextra -fdebug-prefix-map="$PWD"=. -o prog main.c mod*.c
