// cxx.cc: C++ on goheap's malloc family. libstdc++'s operator new and
// delete (plain, array, sized, nothrow and over-aligned) call malloc, free
// and aligned_alloc, so everything here must come from goheap: the heap
// grows by what the program keeps, and containers churn through
// collections on two threads with the same results.
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "check.h"

// Volatile, so that the compiler cannot see the size is impossible.
static volatile size_t half_max = SIZE_MAX / 4;

struct alignas(256) Wide {
    unsigned char bytes[256];
};

static long churn(int seed)
{
    std::map<std::string, std::vector<int>> m;
    long sum = 0;
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < 2000; i++) {
            std::string key = "key-" + std::to_string((i * 7919 + seed) % 1500);
            m[key].push_back(i);
        }
        for (auto &kv : m)
            sum += (long)kv.second.size() + (long)kv.first.size();
        m.clear();
    }
    return sum;
}

int main()
{
    uint32_t gcs = num_gc();

    // Plain and array new: the heap holds what is kept.
    uint64_t before = heap_alloc();
    std::vector<std::unique_ptr<char[]>> kept;
    for (int i = 0; i < 1000; i++) {
        kept.emplace_back(new char[4096]);
        std::memset(kept.back().get(), i & 0xff, 4096);
    }
    CHECK(!on_goheap() || heap_alloc() >= before + 1000 * 4096);

    // Over-aligned new goes through aligned_alloc.
    for (int i = 0; i < 100; i++) {
        Wide *w = new Wide;
        CHECK(((uintptr_t)w & 255) == 0);
        std::memset(w->bytes, 1, sizeof w->bytes);
        delete w;
    }
    Wide *arr = new Wide[7];
    CHECK(((uintptr_t)arr & 255) == 0);
    delete[] arr;

    // nothrow new of an impossible size returns nullptr; plain new throws.
    char *huge = new (std::nothrow) char[half_max];
    CHECK(huge == nullptr);
    bool threw = false;
    try {
        sink(new char[half_max]);
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw);

    long a = 0, b = 0;
    std::thread t([&] { b = churn(1); });
    a = churn(1);
    t.join();
    CHECK(a > 0 && a == b);
    for (int i = 0; i < 1000; i++)
        CHECK(kept[i][i % 4096] == (char)(i & 0xff));
    CHECK(!on_goheap() || num_gc() > gcs);
    return check_exit("cxx");
}
