#!/usr/bin/env bash
# bench/dns/perf_stages.sh PERF_DATA: where a DNS server's cycles went, by
# stage of the query path: the self time of every sampled symbol of
# `perf report --no-children` summed per stage by name. lufd is built
# without frame pointers, so `perf record -g`'s user-space call chains are
# unreliable (they show e.g. ~ViewImpl as the caller of a lookup); self time
# per symbol is exact, hence this grouping. Prints "percent stage" lines,
# largest first, then the top symbols of the "other lufd" bucket.
set -euo pipefail
data="$1"
[[ -s "$data" ]] || { echo "perf_stages.sh: $data missing" >&2; exit 1; }
timeout 180 perf report -i "$data" --stdio --no-children --sort dso,symbol \
  -g none --percent-limit 0 2>/dev/null | grep -v '^#' | grep . |
  awk '
  {
    p = $1; sub(/%/, "", p); p += 0
    dso = $2
    line = $0
    stage = ""
    # Kernel self time by symbol does not split cleanly into send and
    # receive (loopback delivers a sent datagram into the peer socket in
    # the sender'"'"'s context), so it is one bucket.
    if (dso ~ /kernel/) stage = "kernel (UDP recvmmsg/sendmmsg, loopback delivery into dnsperf'"'"'s socket, wake-ups)"
    else if (dso ~ /libcrypto/) stage = "libcrypto (signing: ECDSA P-256)"
    else if (line ~ /Guard|guard/) stage = "guard (Admit, Report, keys)"
    else if (line ~ /Covering|ClosestEncloser|ImmediateSuccessor/) stage = "covering names (FindClosestEncloser, CoveringNames)"
    else if (line ~ /ViewImpl|CowTable|CowMap|DigitsCode|AnyKeyBelow|DestGroup|ResolveNumber|HasVisible|view_internal/) stage = "view lookups (number, below-index, visibility)"
    else if (line ~ /SignatureLru|SignatureKey|RrsetHash|RrsigTail|AppendRrsetSigs|StillGood|SigCache|sigcache|StoredSig|MakeRrsig/) stage = "signature cache and RRSIG assembly"
    else if (line ~ /Mutex|absl_synchronization|futex|SpinLock/) stage = "locking"
    else if (line ~ /Parse|Writer|Append|TailInto|Compress|wire|Edns|Question/) stage = "DNS parse and response writing"
    else if (dso ~ /libc\.so|libstdc/) stage = "libc/libstdc++ (malloc, memcpy, strings)"
    else if (dso ~ /lufd/) { stage = "other lufd"; other[line] = p }
    else stage = "other libraries (" dso ")"
    sum[stage] += p
  }
  END {
    for (s in sum) printf "%6.2f%%  %s\n", sum[s], s | "sort -rn"
    close("sort -rn")
    print ""
    print "other lufd, largest symbols:"
    for (l in other) if (other[l] >= 0.5) print l | "sort -rn | head -n 12 | cut -c1-160"
  }'
