// Command binarytrees is the Go build of bench/binarytrees.c: the Computer
// Language Benchmarks Game's binary-trees, single-threaded, on Go's own
// heap. See binarytrees.c for the algorithm; the output is the same text.
//
// Usage: binarytrees [depth]   (default 21)
package main

import (
	"fmt"
	"os"
	"strconv"
)

const (
	minDepth     = 4
	defaultDepth = 21
)

type node struct {
	left, right *node
}

func makeTree(depth int) *node {
	if depth <= 0 {
		return &node{}
	}
	left := makeTree(depth - 1)
	right := makeTree(depth - 1)
	return &node{left, right}
}

func (n *node) check() int64 {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

func expect(got, want int64, what string, depth int) {
	if got != want {
		fmt.Fprintf(os.Stderr, "binarytrees: %s of depth %d: check %d, want %d\n",
			what, depth, got, want)
		os.Exit(1)
	}
}

func main() {
	depth := defaultDepth
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v < 0 || v > 30 {
			fmt.Fprintln(os.Stderr, "usage: binarytrees [depth 0..30]")
			os.Exit(2)
		}
		depth = v
	}
	maxDepth := depth
	if maxDepth < minDepth+2 {
		maxDepth = minDepth + 2
	}
	stretchDepth := maxDepth + 1

	check := makeTree(stretchDepth).check()
	expect(check, (2<<stretchDepth)-1, "stretch tree", stretchDepth)
	fmt.Printf("stretch tree of depth %d\t check: %d\n", stretchDepth, check)

	longLived := makeTree(maxDepth)

	for d := minDepth; d <= maxDepth; d += 2 {
		iterations := int64(1) << (maxDepth - d + minDepth)
		check = 0
		for i := int64(0); i < iterations; i++ {
			check += makeTree(d).check()
		}
		expect(check, iterations*((2<<d)-1), "short-lived trees", d)
		fmt.Printf("%d\t trees of depth %d\t check: %d\n", iterations, d, check)
	}

	check = longLived.check()
	expect(check, (2<<maxDepth)-1, "long lived tree", maxDepth)
	fmt.Printf("long lived tree of depth %d\t check: %d\n", maxDepth, check)
}
