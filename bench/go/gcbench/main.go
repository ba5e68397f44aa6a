// Command gcbench is the Go build of bench/gcbench.c: the GCBench shape
// (Ellis, Kovac, Boehm) on Go's own heap. See gcbench.c for the algorithm;
// this program does the same work in the same order and prints the same
// text, so its output can be compared with the C builds'.
package main

import (
	"fmt"
	"os"
)

const (
	stretchDepth   = 18
	longLivedDepth = 16
	arrayLen       = 500000
	minDepth       = 4
	maxDepth       = 16
)

// node matches the C node: two pointers and two 32-bit integers.
type node struct {
	left, right *node
	height      int32 // levels below this node: 0 for a leaf
	pad         int32
}

func newNode(height int) *node {
	return &node{height: int32(height)}
}

// treeNodes returns the number of nodes in a complete tree of depth d.
func treeNodes(depth int) int64 {
	return (2 << depth) - 1
}

// populate gives n its subtrees top-down: a parent's children are
// allocated before the walk descends into them.
func populate(n *node, depth int) {
	if depth <= 0 {
		return
	}
	n.left = newNode(depth - 1)
	n.right = newNode(depth - 1)
	populate(n.left, depth-1)
	populate(n.right, depth-1)
}

// makeTree builds a complete tree bottom-up: the parent is allocated after
// both of its subtrees.
func makeTree(depth int) *node {
	if depth <= 0 {
		return newNode(0)
	}
	left := makeTree(depth - 1)
	right := makeTree(depth - 1)
	n := newNode(depth)
	n.left = left
	n.right = right
	return n
}

// check returns the number of nodes under n, or -1 when n is not a
// complete tree of the given depth with correct heights.
func check(n *node, depth int) int64 {
	if n == nil || int(n.height) != depth {
		return -1
	}
	if depth == 0 {
		if n.left == nil && n.right == nil {
			return 1
		}
		return -1
	}
	l, r := check(n.left, depth-1), check(n.right, depth-1)
	if l < 0 || r < 0 {
		return -1
	}
	return 1 + l + r
}

func checkOrDie(n *node, depth int, what string) int64 {
	got := check(n, depth)
	if got != treeNodes(depth) {
		fmt.Fprintf(os.Stderr, "gcbench: %s of depth %d is damaged (check %d, want %d)\n",
			what, depth, got, treeNodes(depth))
		os.Exit(1)
	}
	return got
}

func buildTrees(depth int) {
	iters := 2 * treeNodes(stretchDepth) / treeNodes(depth)
	var last *node
	for i := int64(0); i < iters; i++ {
		last = newNode(depth)
		populate(last, depth)
	}
	checkOrDie(last, depth, "top-down tree")
	for i := int64(0); i < iters; i++ {
		last = makeTree(depth)
	}
	checkOrDie(last, depth, "bottom-up tree")
	fmt.Printf("depth %d: %d trees top-down and %d bottom-up, %d nodes each\n",
		depth, iters, iters, treeNodes(depth))
}

func main() {
	fmt.Printf("stretch tree of depth %d: %d nodes\n", stretchDepth,
		checkOrDie(makeTree(stretchDepth), stretchDepth, "stretch tree"))

	longLived := newNode(longLivedDepth)
	populate(longLived, longLivedDepth)
	array := make([]float64, arrayLen)
	for i := range array {
		array[i] = 1.0 / float64(i+1)
	}

	for depth := minDepth; depth <= maxDepth; depth += 2 {
		buildTrees(depth)
	}

	fmt.Printf("long-lived tree of depth %d: %d nodes\n", longLivedDepth,
		checkOrDie(longLived, longLivedDepth, "long-lived tree"))
	for i := range array {
		if array[i] != 1.0/float64(i+1) {
			fmt.Fprintf(os.Stderr, "gcbench: long-lived array damaged at element %d\n", i)
			os.Exit(1)
		}
	}
	fmt.Printf("long-lived array: %d doubles intact\n", arrayLen)
}
