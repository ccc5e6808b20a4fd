#!/usr/bin/env python3
"""Instructions per sequential add+delete pair, layer by layer, from two callgrind runs of
bench/profile/seq-binding.js that differ only in their number of rounds (made by
callgrind.sh with LAYERS=1: one file per thread). Each figure is the difference between the
runs divided by the extra pairs, so start-up and warm-up cancel out.

    python3 bench/profile/callgrind-layers.py SHORT.out LONG.out EXTRA_PAIRS
    python3 bench/profile/callgrind-layers.py total RUN.out      (all threads of one run)

On the JS thread a layer is the inclusive cost of the N-API entry points that start it
(extern functions: never inlined); on the tokio thread, where async code is inlined into
tokio's task polls, each instruction is charged by the source file it comes from (ours or a
dependency's), else by the function it was inlined into. Names cover the crate before and
after issue 29 (hyper and head_case, then http_reply and xml_scan) and after issue 28's
folders (link/, soap/xml_scan, actions), so older builds can be profiled too; a build needs its symbols (strip = none) for any of this."""
import glob
import re
import subprocess
import sys
from collections import Counter


def annotate(path, inclusive):
    """(total, {(file, function): cost}) of one callgrind file."""
    args = ['callgrind_annotate', '--auto=no', '--threshold=100']
    text = subprocess.run(args + (['--inclusive=yes'] if inclusive else []) + [path],
                          capture_output=True, text=True, check=True).stdout
    costs, total = Counter(), 0
    for line in text.splitlines():
        m = re.match(r'\s*([\d,]+) \([^)]*\)\s+(.*)$', line)
        if not m:
            continue
        cost = int(m.group(1).replace(',', ''))
        if 'PROGRAM TOTALS' in m.group(2):
            total = cost
            continue
        # "file:function [object]"; code inlined from another file is listed again as
        # "that-file:function".
        entry = re.match(r'(.*?):(.*?)(?: \[[^\]]*\])?$', m.group(2))
        costs[(entry.group(1), entry.group(2))] += cost
    return total, costs


def inclusive(costs, pattern):
    """Inclusive cost of the functions matching `pattern`. A function's inlined fragments
    have inclusive costs that are parts of its own entry's: the largest one is the whole."""
    best = Counter()
    for (_, fn), cost in costs.items():
        if re.search(pattern, fn):
            best[fn] = max(best[fn], cost)
    return sum(best.values())


# V8 draws a random hash seed at start-up with a prime search of random length (7 to 29
# million instructions here): not the client's work, and it would not cancel out.
SEED = r'^v8::internal::HashSeed::InitializeRoots'

ALLOCATOR = r'^(_int_malloc|_int_free|malloc|free|realloc|_int_realloc|calloc|malloc_consolidate|unlink_chunk.*|_int_memalign|_mid_memalign.*|posix_memalign|__rustc::__rd?l?_?r?u?s?t?_?(alloc|dealloc|realloc|alloc_zeroed))$'

# The tokio thread's work: (layer, functions that are all of it, source files that are).
# Instructions are charged by their function when it is one of these, else by the source
# file they come from (async code is inlined into tokio's task polls and our completion
# closure, so there the file says more), else by whose function it is; std and libc code
# that none of these places is charged to its callers.
TOKIO_LAYERS = [
    ('XML reply parsing (decode, parse, read the values)',
     r'soap::(parse_reply|read_reply|unshelter|shelter_controls)|xml_scan::|charset::|roxmltree::',
     r'upnp/(soap/)?(xml_scan|charset)\.rs|roxmltree-'),
    ('request head and SOAP body building',
     r'http::(request_bytes|header_value|request_target|head_fields)|head_case::respell|soap::(envelope|escape_into)',
     r'(?!)'),
    ('HTTP exchange (write, read, reply framing)',
     r'http_reply::|http::(talk|exchange|exchange_once|io_failure)|head_case::|hyper::|hyper_util::|httparse::|http_body',
     r'upnp/(link/)?(http|http_reply|head_case)\.rs|hyper-|hyper-util-|/http-[0-9]|http-body|httparse-|bytes-|want-'),
    ("connections (the device's link: queue, spares, connect)",
     r'upnp::link::(?!http)|link_policy::|upnp::(link::)?http::(open|connect)',
     r'upnp/link(_policy|/policy)?\.rs|socket2-'),
    ('the SOAP call around them (arguments, mapping book, hand-off)',
     r'upnp::(soap|gateway|actions|leftovers)::|upnp_native::napi::',
     r'upnp/(soap|gateway|actions|leftovers)\.rs|napi/|napi-'),
    ('scheduling and waiting (tokio tasks, timers, epoll)', r'^<?tokio::|^mio::', r'tokio-|mio-'),
]
# Wrappers whose instructions are mostly code inlined into them: placed by source file.
WRAPPERS = r'completion::spawn|CatchUnwind|tokio::runtime::task::|core::pin::Pin'


def classify(file, fn):
    """A layer for instructions of `fn` from `file`, or None for std/libc code, which is
    charged to its callers instead."""
    if re.search(ALLOCATOR, fn):
        return 'allocator (malloc, free)'
    wrapper = re.search(WRAPPERS, fn)
    if not wrapper:
        for name, functions, _ in TOKIO_LAYERS:
            if re.search(functions, fn):
                return name
    for name, _, files in TOKIO_LAYERS:
        if re.search(files, file):
            return name
    if 'upnp_native::' in fn:
        return TOKIO_LAYERS[4][0]
    if wrapper and 'tokio::' in fn:
        return TOKIO_LAYERS[5][0]
    return None


def call_graph(path):
    """Exclusive costs by (function, source file) and inclusive costs of the calls between
    functions, read from a callgrind file itself (callgrind_annotate does not give the
    latter per caller)."""
    files, fns = {}, {}
    own, calls = Counter(), Counter()
    fn = file = source = callee = None
    pending = False

    def named(table, rest):
        m = re.match(r'\((\d+)\)(?: (.*))?', rest)
        if not m:
            return rest
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1), '?')

    for line in open(path, errors='replace'):
        key, _, rest = line.rstrip('\n').partition('=')
        if key == 'fl':
            file = source = named(files, rest)
        elif key in ('fi', 'fe'):
            source = named(files, rest)
        elif key == 'fn':
            fn, source = named(fns, rest), file
        elif key in ('cfi', 'cfl'):
            named(files, rest)
        elif key == 'cfn':
            callee = named(fns, rest)
        elif key == 'calls':
            pending = True
        elif line[:1] in '0123456789+-*' and fn is not None:
            cost = int(line.split()[-1])
            if pending:
                calls[(fn, callee)] += cost
                pending = False
            else:
                own[(fn, source)] += cost
    return own, calls


def tokio_layers(path):
    """The tokio thread's instructions by layer: each function's own instructions by their
    source file or function (classify), std/libc code by its callers, in proportion to what
    each caller's calls to it cost."""
    own, calls = call_graph(path)
    callers = {}
    for (caller, callee), cost in calls.items():
        callers.setdefault(callee, Counter())[caller] += cost
    shares = {}

    def share(fn, seen=()):
        """Layer -> fraction for instructions of `fn` that no file or name places."""
        if fn in shares:
            return shares[fn]
        layer = classify('', fn)
        if layer:
            return {layer: 1.0}
        who = {c: w for c, w in callers.get(fn, {}).items() if c not in seen and w > 0}
        if not who:
            return {'std and libc (memcpy, locks, time)': 1.0}
        total, out = sum(who.values()), Counter()
        for caller, weight in who.items():
            for layer, part in share(caller, seen + (fn,)).items():
                out[layer] += part * weight / total
        shares[fn] = out
        return out

    out = Counter()
    for (fn, source), cost in own.items():
        layer = classify(source or '', fn)
        if layer:
            out[layer] += cost
        else:
            for name, part in share(fn).items():
                out[name] += cost * part
    return out


def layers(prefix):
    """Layer -> instructions, summed over the threads of one run."""
    out = Counter()
    for path in sorted(glob.glob(prefix + '-*')):
        total, own = annotate(path, False)
        _, c = annotate(path, True)
        total -= inclusive(c, SEED)
        if inclusive(c, r'^node::Start\('):
            calls = inclusive(c, r'^upnp_native::napi::.*_c_callback$')
            settle = inclusive(c, r'^upnp_native::napi::completion::deliver$')
            wake = (inclusive(c, r'ThreadSafeFunction::AsyncCb') - settle
                    - inclusive(c, r'^v8::internal::MicrotaskQueue::PerformCheckpoint'))
            out['JS thread: calls into the addon (arguments, promise, hand-off to tokio)'] += calls
            out['JS thread: settling the promises (results to JS values, resolve)'] += settle
            out['JS thread: the wake-up that brings results (uv async, callback scope)'] += wake
            out['JS thread: JavaScript and V8 (the loop, awaits, microtasks, GC)'] += total - calls - settle - wake
        elif inclusive(c, r'multi_thread::worker::run$'):
            for layer, cost in tokio_layers(path).items():
                out['tokio thread: ' + layer] += cost
        else:
            out['other threads (V8 compiler and GC helpers, libuv)'] += total
    return out


def total(prefix):
    """All instructions of one run (every thread), without V8's hash-seed search."""
    whole = 0
    for path in glob.glob(prefix + '*'):
        if path.endswith('.out') and glob.glob(path + '-*'):
            continue  # the empty main file beside the per-thread ones
        count, _ = annotate(path, False)
        _, c = annotate(path, True)
        whole += count - inclusive(c, SEED)
    return whole


def main():
    if sys.argv[1] == 'total':
        print(total(sys.argv[2]))
        return
    short, long_, pairs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    a, b = layers(short), layers(long_)
    # In the order of a call: JS, the tokio thread's work (as TOKIO_LAYERS, then what has no
    # layer of its own), the rest.
    order = [k for k in b if k.startswith('JS')] + [
        'tokio thread: ' + name for name, _, _ in TOKIO_LAYERS
    ] + ['tokio thread: allocator (malloc, free)', 'tokio thread: std and libc (memcpy, locks, time)']
    keys = [k for k in order if k in b] + [k for k in b if k not in order]
    width = max(len(k) for k in keys)
    whole = 0
    for key in keys:
        per = (b[key] - a[key]) / pairs
        whole += per
        print(f'{key:<{width}}  {per:9,.0f}')
    print(f'{"whole process":<{width}}  {whole:9,.0f}')


if __name__ == '__main__':
    main()
