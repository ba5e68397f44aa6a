/* mksizeclasses.c: generates runtime/sizeclass_table.h, the size-class
 * tables of Go 1.19 (Go: runtime/mksizeclasses.go, sizeclasses.go).
 *
 * Build and run it with `make sizeclasses`; the normal build only compiles
 * the checked-in output. The constants (page size, small-size limits, the
 * lookup granularities) come from runtime/sizeclass.h, so the generator and
 * the runtime cannot disagree about them.
 *
 * How the classes are chosen (the rule Go uses, restated):
 *   1. Walk candidate sizes upwards in steps of an alignment that grows with
 *      the size: 8 bytes, 16 from 32 bytes, size/8 from 128 bytes, 256 from
 *      2048 bytes (the step changes whenever the size is a power of two).
 *   2. For each candidate, take the smallest whole number of pages whose
 *      leftover after cutting it into objects is at most 1/8 of the span.
 *   3. If the previous class uses the same number of pages and fits the
 *      same number of objects, the candidate replaces it (the larger size
 *      costs nothing).
 *   4. Finally, grow each class to the largest multiple of 128 bytes that
 *      still fits the same number of objects in its span.
 * The result must have exactly NUM_SIZE_CLASSES entries (class 0 = large).
 *
 * Each class also gets a "divmul" so that an offset inside a span is turned
 * into an object index with one 32x32->64 multiply and a shift:
 * idx = (off * divmul) >> 32, divmul = floor((2^32 - 1) / size) + 1. The
 * generator checks that this is exact for every offset of every span and
 * refuses to write a table otherwise.
 *
 * Output goes to stdout; the exit status is non-zero on any failure. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "sizeclass.h"

struct class {
    unsigned size;   /* bytes per object */
    unsigned npages; /* pages per span */
};

static struct class classes[NUM_SIZE_CLASSES];
static unsigned nclasses;

static int is_pow2(unsigned x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

static void __attribute__((noreturn)) die(const char *msg, unsigned a, unsigned b)
{
    fprintf(stderr, "mksizeclasses: %s (%u, %u)\n", msg, a, b);
    exit(1);
}

/* next_align returns the candidate step to use from a power-of-two size
 * onwards, or align unchanged for other sizes. */
static unsigned next_align(unsigned size, unsigned align)
{
    if (!is_pow2(size))
        return align;
    if (size >= 2048)
        return 256;
    if (size >= 128)
        return size / 8;
    if (size >= 32)
        return 16;
    return align;
}

/* span_pages is the smallest page count whose tail waste for objects of
 * size bytes is at most 1/8 of the span. */
static unsigned span_pages(unsigned size)
{
    unsigned bytes = PAGE_SIZE;

    while (bytes % size > bytes / 8)
        bytes += PAGE_SIZE;
    return bytes / PAGE_SIZE;
}

static void make_classes(void)
{
    unsigned align = 8;

    nclasses = 1; /* class 0: large objects, size and pages 0 */
    for (unsigned size = align; size <= MAX_SMALL_SIZE; size += align) {
        align = next_align(size, align);
        if (!is_pow2(align))
            die("alignment is not a power of two", size, align);

        unsigned npages = span_pages(size);
        unsigned bytes = npages * PAGE_SIZE;
        struct class *last = &classes[nclasses - 1];
        if (nclasses > 1 && last->npages == npages && bytes / last->size == bytes / size) {
            last->size = size;
            continue;
        }
        if (nclasses == NUM_SIZE_CLASSES)
            die("too many size classes", nclasses + 1, NUM_SIZE_CLASSES);
        classes[nclasses].size = size;
        classes[nclasses].npages = npages;
        nclasses++;
    }
    if (nclasses != NUM_SIZE_CLASSES)
        die("wrong number of size classes", nclasses, NUM_SIZE_CLASSES);

    /* Use the room a class leaves at the end of its span: as large a size
     * as still fits the same count, kept a multiple of LARGE_SIZE_DIV so
     * that size_to_class128 stays exact. */
    for (unsigned c = 1; c < nclasses; c++) {
        unsigned bytes = classes[c].npages * PAGE_SIZE;
        unsigned grown = (bytes / (bytes / classes[c].size)) & ~(unsigned)(LARGE_SIZE_DIV - 1);
        if (grown > classes[c].size)
            classes[c].size = grown;
    }
}

static uint32_t divmul_of(unsigned size)
{
    return size == 0 ? 0 : UINT32_MAX / size + 1;
}

/* check_divmul verifies the multiply-shift division for every offset from 0
 * to the span size inclusive. */
static void check_divmul(unsigned c)
{
    unsigned size = classes[c].size;
    uint64_t m = divmul_of(size);
    unsigned limit = classes[c].npages * PAGE_SIZE;

    for (unsigned off = 0; off <= limit; off++)
        if ((unsigned)(((uint64_t)off * m) >> 32) != off / size)
            die("divmul is not exact for class, offset", c, off);
}

/* smallest_class returns the first class whose size is at least bound. */
static unsigned smallest_class(unsigned bound)
{
    for (unsigned c = 0; c < nclasses; c++)
        if (classes[c].size >= bound)
            return c;
    die("no class is large enough", bound, 0);
}

static unsigned min_align(unsigned size)
{
    unsigned a = size & -size;
    return a > PAGE_SIZE ? (unsigned)PAGE_SIZE : a;
}

static void print_comment(void)
{
    unsigned prev = 0;

    printf("/* class  bytes/obj  bytes/span  objects  tail waste  max waste  min align\n");
    for (unsigned c = 1; c < nclasses; c++) {
        unsigned size = classes[c].size;
        unsigned span = classes[c].npages * PAGE_SIZE;
        unsigned objects = span / size;
        unsigned tail = span - objects * size;
        /* Worst case: every object is one byte bigger than the previous
         * class, so each wastes size - prev - 1 bytes, plus the tail. */
        double max_waste = (double)((size - prev - 1) * objects + tail) / span;
        printf(" * %5u  %9u  %10u  %7u  %10u  %8.2f%%  %9u\n",
               c, size, span, objects, tail, 100 * max_waste, min_align(size));
        prev = size;
    }
    printf(" */\n\n");
}

/* print_list writes n values as a macro holding a braced initializer,
 * per_line values to a line. */
static void print_list(const char *name, unsigned n, unsigned per_line, unsigned (*value)(unsigned))
{
    printf("#define %s { \\\n   ", name);
    for (unsigned i = 0; i < n; i++) {
        printf(" %u,", value(i));
        if (i % per_line == per_line - 1 && i + 1 < n)
            printf(" \\\n   ");
    }
    printf(" \\\n}\n\n");
}

static unsigned value_size(unsigned c) { return classes[c].size; }
static unsigned value_npages(unsigned c) { return classes[c].npages; }
static unsigned value_divmul(unsigned c) { return divmul_of(classes[c].size); }
static unsigned value_class8(unsigned i) { return smallest_class(i * SMALL_SIZE_DIV); }
static unsigned value_class128(unsigned i) { return smallest_class(SMALL_SIZE_MAX + i * LARGE_SIZE_DIV); }

int main(void)
{
    make_classes();
    for (unsigned c = 1; c < nclasses; c++)
        check_divmul(c);

    printf("/* sizeclass_table.h: generated by tools/mksizeclasses.c; do not edit.\n"
           " * Regenerate with `make sizeclasses`. Included only by sizeclass.c,\n"
           " * which defines the arrays declared in sizeclass.h from these lists. */\n"
           "#ifndef GH_SIZECLASS_TABLE_H\n"
           "#define GH_SIZECLASS_TABLE_H\n\n");
    print_comment();
    printf("#define SIZECLASS_TABLE_NUM_CLASSES %u\n\n", nclasses);
    print_list("SIZECLASS_TABLE_CLASS_TO_SIZE", nclasses, 12, value_size);
    print_list("SIZECLASS_TABLE_CLASS_TO_NPAGES", nclasses, 24, value_npages);
    print_list("SIZECLASS_TABLE_CLASS_TO_DIVMUL", nclasses, 8, value_divmul);
    print_list("SIZECLASS_TABLE_SIZE_TO_CLASS8", SMALL_SIZE_MAX / SMALL_SIZE_DIV + 1, 16, value_class8);
    print_list("SIZECLASS_TABLE_SIZE_TO_CLASS128",
               (MAX_SMALL_SIZE - SMALL_SIZE_MAX) / LARGE_SIZE_DIV + 1, 16, value_class128);
    printf("#endif\n");

    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("mksizeclasses: stdout");
        return 1;
    }
    return 0;
}
