#!/usr/bin/env python3
"""covering_subtrees.py NUMBERS_CSV QUERY_FILE FIRST COUNT [APEX]
   covering_subtrees.py --deep NUMBERS_CSV OUT [APEX]

How many distinct covering-denial subtrees (E, C) a run of dnsperf touched
(bench/dns/run.sh): lines FIRST..FIRST+COUNT-1 (1-based, wrapping around the
end) of QUERY_FILE ("<reversed digits>.<apex> NAPTR"), against the numbers of
NUMBERS_CSV (`lufctl import` CSV, E.164 in the first column; all of them
visible to anonymous DNS, as run.sh provisions them).

lufd's covering denial (server/dns/covering.h) answers a nonexistent name
with NSECs that depend only on E, the closest existing ancestor, and C, the
first missing label below it; it signs them once per (view, E, C) and caches
them. A name exists when it is a registered number or a prefix of one, so E
is the longest prefix of the queried digits that is a prefix of some number:
the longer common prefix with its neighbours in sorted order. (E, C) is that
prefix plus one digit. Prints one line of KEY=VALUE: queries (misses counted),
hits (names that exist; not covering denials), subtrees (distinct (E, C)),
max_per_subtree, depth_min/depth_max (digits of E, without '+').

--deep writes covering denial's worst case instead: every registered number
once, in random order (fixed seed), with one random digit appended, as
dnsperf lines. Each such name's E is the number itself, so every query is a
subtree (E, C) of its own, and its wildcard NSEC (*.E) is one of its own
too: nothing to reuse from the cache until the names repeat.
"""
import bisect
import collections
import sys


def lcp(a, b):
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def read_numbers(csv_path):
    """The registry's numbers (digits without "+"), sorted, from the first
    column of the import CSV."""
    nums = set()
    with open(csv_path) as f:
        for line in f:
            tn = line.split(",", 1)[0].strip()
            if tn.startswith("+"):
                nums.add(tn[1:])
    return sorted(nums)


def write_deep(csv_path, out_path, apex):
    import random

    nums = read_numbers(csv_path)
    rng = random.Random(4470)
    rng.shuffle(nums)
    with open(out_path, "w") as out:
        for n in nums:
            digits = n + str(rng.randrange(10))
            out.write(".".join(reversed(digits)) + "." + apex + " NAPTR\n")


def main():
    if sys.argv[1] == "--deep":
        write_deep(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "e164.arpa.")
        return
    csv_path, qpath, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    apex = sys.argv[5] if len(sys.argv) > 5 else "e164.arpa."
    nums = read_numbers(csv_path)
    numset = set(nums)
    with open(qpath, "rb") as f:
        total = sum(1 for _ in f)
    if total == 0 or count <= 0:
        print("queries=0 hits=0 subtrees=0 max_per_subtree=0 depth_min=0 depth_max=0")
        return
    suffix = "." + apex
    subtrees = collections.Counter()
    hits = 0
    misses = 0
    start = (first - 1) % total
    count = min(count, total)

    def names():  # Streamed: the query pool can be 4M lines.
        with open(qpath) as f:
            for i, line in enumerate(f):
                if (i - start) % total < count:
                    yield line.split()[0]

    for name in names():
        if not name.endswith(suffix):
            continue
        labels = name[: -len(suffix)].split(".")
        digits = "".join(reversed(labels))
        if digits in numset:
            hits += 1
            continue
        i = bisect.bisect_left(nums, digits)
        e = 0
        if i > 0:
            e = max(e, lcp(nums[i - 1], digits))
        if i < len(nums):
            e = max(e, lcp(nums[i], digits))
        if e >= len(digits):  # An empty non-terminal: NODATA, not covering.
            hits += 1
            continue
        misses += 1
        subtrees[digits[: e + 1]] += 1
    depths = [len(s) - 1 for s in subtrees]
    print(
        "queries=%d hits=%d subtrees=%d max_per_subtree=%d depth_min=%d depth_max=%d"
        % (
            misses,
            hits,
            len(subtrees),
            max(subtrees.values()) if subtrees else 0,
            min(depths) if depths else 0,
            max(depths) if depths else 0,
        )
    )


if __name__ == "__main__":
    main()
