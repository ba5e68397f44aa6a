#!/bin/sh
# git.sh DIR FILES COMMITS: a repository of FILES files in ten directories,
# COMMITS commits that each change every file, then git gc, git log and a
# few queries. Names, dates and configuration are fixed, so the output is
# the same on every run.
set -eu
dir=$1
files=$2
commits=$3
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
export GIT_AUTHOR_NAME=goheap GIT_AUTHOR_EMAIL=goheap@example.org
export GIT_COMMITTER_NAME=goheap GIT_COMMITTER_EMAIL=goheap@example.org
export GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME=$PWD
git init -q -b main .
c=1
while [ "$c" -le "$commits" ]; do
    i=0
    while [ "$i" -lt "$files" ]; do
        mkdir -p "dir$((i % 10))"
        printf 'file %d commit %d\n%s\n' "$i" "$c" "$(seq "$i" $((i + c * 20)) | tr '\n' ' ')" \
            > "dir$((i % 10))/f$i.txt"
        i=$((i + 1))
    done
    git add -A
    git commit -q -m "commit $c"
    c=$((c + 1))
done
git gc -q --aggressive
git log --stat --format='%H %s' | head -n 60
git rev-list --all --objects | wc -l
git count-objects -v | grep -v size
git grep -c 'commit 2' | tail -n 3
git diff HEAD~1 --stat | tail -n 1
