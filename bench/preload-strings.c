/* preload-strings.c: many small strings. An ordinary malloc program:
 * bench/preload-bench.c runs it under each allocator with LD_PRELOAD.
 *
 * It writes a text of WORDS words (drawn from a 20000-word vocabulary of
 * 2..14 letters, about 9 bytes a word), then ROUNDS times tokenizes it:
 * every token is strdup'd into a growing array (realloc), counted in a
 * chained hash table whose nodes are malloc'd, and at the end of the round
 * the tokens, the array and the table are freed. With --leak they are
 * dropped instead: only a collector gets that memory back.
 *
 * usage: preload-strings [--words N] [--rounds R] [--leak]
 * Prints the distinct-word count and a checksum (the same everywhere). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define VOCAB 20000
#define BUCKETS 65536

struct entry {
    struct entry *next;
    char *word;
    long count;
};

static uint32_t hash_word(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static char *make_text(long words, size_t *len)
{
    struct harness_rng rng;
    static char vocab[VOCAB][16];
    harness_rng_seed(&rng, 7);
    for (int v = 0; v < VOCAB; v++) {
        int n = 2 + (int)harness_rng_below(&rng, 13);
        for (int i = 0; i < n; i++)
            vocab[v][i] = (char)('a' + harness_rng_below(&rng, 26));
        vocab[v][n] = '\0';
    }
    size_t cap = (size_t)words * 16 + 1, n = 0;
    char *text = malloc(cap);
    if (text == NULL)
        return NULL;
    for (long w = 0; w < words; w++) {
        /* Zipf-like: small indices much more often. */
        uint64_t r = harness_rng_below(&rng, VOCAB);
        const char *s = vocab[harness_rng_below(&rng, r + 1)];
        size_t k = strlen(s);
        memcpy(text + n, s, k);
        n += k;
        text[n++] = (w % 17 == 16) ? '\n' : ' ';
    }
    text[n] = '\0';
    *len = n;
    return text;
}

int main(int argc, char **argv)
{
    long words = 2000000;
    int rounds = 3, leak = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--words") == 0 && i + 1 < argc)
            words = atol(argv[++i]);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--leak") == 0)
            leak = 1;
        else {
            fprintf(stderr, "usage: preload-strings [--words N] [--rounds R] [--leak]\n");
            return 2;
        }
    }
    size_t len = 0;
    char *text = make_text(words, &len);
    if (text == NULL) {
        fprintf(stderr, "preload-strings: out of memory\n");
        return 1;
    }
    uint64_t sum = 0;
    long distinct = 0;
    for (int round = 0; round < rounds; round++) {
        struct entry **table = calloc(BUCKETS, sizeof(*table));
        char **tokens = NULL;
        size_t ntok = 0, cap = 0;
        distinct = 0;
        for (const char *p = text; *p != '\0';) {
            while (*p == ' ' || *p == '\n')
                p++;
            const char *q = p;
            while (*q != '\0' && *q != ' ' && *q != '\n')
                q++;
            if (q == p)
                break;
            size_t n = (size_t)(q - p);
            char *tok = malloc(n + 1);
            memcpy(tok, p, n);
            tok[n] = '\0';
            if (ntok == cap) {
                cap = cap ? cap * 2 : 1024;
                tokens = realloc(tokens, cap * sizeof(*tokens));
            }
            tokens[ntok++] = tok;
            uint32_t h = hash_word(p, n) % BUCKETS;
            struct entry *e = table[h];
            while (e != NULL && strcmp(e->word, tok) != 0)
                e = e->next;
            if (e == NULL) {
                e = malloc(sizeof(*e));
                e->word = strdup(tok);
                e->count = 0;
                e->next = table[h];
                table[h] = e;
                distinct++;
            }
            e->count++;
            p = q;
        }
        for (size_t i = 0; i < ntok; i += 1000)
            sum += (unsigned char)tokens[i][0];
        sum += ntok;
        if (!leak) {
            for (size_t i = 0; i < ntok; i++)
                free(tokens[i]);
            free(tokens);
            for (int b = 0; b < BUCKETS; b++) {
                for (struct entry *e = table[b], *next; e != NULL; e = next) {
                    next = e->next;
                    free(e->word);
                    free(e);
                }
            }
            free(table);
        }
    }
    free(text);
    printf("strings words=%ld rounds=%d distinct=%ld checksum=%llu\n", words, rounds, distinct,
           (unsigned long long)sum);
    return 0;
}
