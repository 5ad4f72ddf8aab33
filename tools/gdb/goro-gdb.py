# goro-gdb.py: gdb commands for programs that use libgoro (live or core).
#
#   (gdb) source /usr/share/goro/gdb/goro-gdb.py
#   (gdb) goro-goroutines          list every goroutine: id, state, wait reason
#   (gdb) goro-bt ID               stack of goroutine ID
#
# How it works. The runtime keeps every G struct it ever allocated on an
# append-only list of chunks, goro::rt::g_allgs (core/sched/trace.h); the
# script walks it through the library's debug information (libgoro is built
# with -g; a stripped library needs its separate debug file). A parked
# goroutine's registers were saved by Boost.Context's jump_fcontext on the
# goroutine's own stack, at G::ctx (x86-64 System V layout, boost
# asm/jump_x86_64_sysv_elf_gas.S):
#     ctx+0x00 mxcsr, x87 control word   ctx+0x08 r12   ctx+0x10 r13
#     ctx+0x18 r14   ctx+0x20 r15   ctx+0x28 rbx   ctx+0x30 rbp
#     ctx+0x38 return address (into goro::rt::mcall)
# goro-bt starts from that return address and frame pointer and follows the
# frame-pointer chain (libgoro and its callers are built with
# -fno-omit-frame-pointer), staying inside the goroutine's stack bounds.
# A running goroutine's stack is its thread's: goro-bt names the thread and
# prints that thread's backtrace with gdb's own unwinder.
#
# Only x86-64 is supported by goro-bt; goro-goroutines works anywhere.

import gdb

ALLGS = "goro::rt::g_allgs"
SCHED = "goro::rt::(anonymous namespace)::sched"


def _plain(v):
    """Value of a std::atomic<T> (or T itself): descend into the first
    non-static data member until a scalar or pointer remains."""
    t = v.type.strip_typedefs()
    depth = 0
    while t.code in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION) and depth < 8:
        fields = [f for f in t.fields() if hasattr(f, "bitpos")]
        if not fields:
            break
        v = v[fields[0]]
        t = v.type.strip_typedefs()
        depth += 1
    return v


def _enum_names(typename):
    try:
        t = gdb.lookup_type(typename)
    except gdb.error:
        return {}
    return {int(f.enumval): f.name.split("::")[-1] for f in t.fields()}


def _gstatus_names():
    names = _enum_names("goro::rt::GStatus")
    if not names:  # no enum in the debug info: the values of runtime2.h
        names = {0: "Gidle", 1: "Grunnable", 2: "Grunning", 3: "Gwaiting", 4: "Gdead", 5: "Gsyscall"}
    return names


def _cstr(addr, maxlen=256):
    """The NUL-terminated string at addr (at most maxlen bytes), or "?"."""
    if addr == 0:
        return ""
    try:
        raw = bytes(gdb.selected_inferior().read_memory(addr, maxlen))
    except (gdb.error, gdb.MemoryError):
        # Near the end of a mapping: read byte by byte.
        raw = b""
        try:
            for i in range(maxlen):
                c = bytes(gdb.selected_inferior().read_memory(addr + i, 1))
                if c == b"\0":
                    break
                raw += c
        except (gdb.error, gdb.MemoryError):
            if not raw:
                return "?"
    return raw.split(b"\0")[0].decode("utf-8", "replace")


def _string(v):
    return _cstr(int(v))


def _chars(arr):
    return _cstr(int(arr.address), arr.type.sizeof)


def _symbol(pc):
    """function name for a code address, or None."""
    try:
        block = gdb.block_for_pc(pc)
    except (RuntimeError, gdb.error):
        block = None
    while block is not None and block.function is None:
        block = block.superblock
    if block is not None and block.function is not None:
        return block.function.print_name
    try:
        s = gdb.execute("info symbol 0x%x" % pc, to_string=True).strip()
        if s and not s.startswith("No symbol"):
            return s.split(" in section")[0]
    except gdb.error:
        pass
    return None


def all_goroutines():
    """Yields (G value, status name) for every G that is not idle or dead."""
    sym = gdb.lookup_global_symbol(ALLGS)
    if sym is None:
        raise gdb.GdbError(
            "goro: no symbol %s: is libgoro loaded, with its debug info?" % ALLGS)
    head = _plain(sym.value())
    names = _gstatus_names()
    chunk = head
    seen = 0
    while int(chunk) != 0 and seen < 1000000:
        seen += 1
        gs = chunk["gs"]
        n = int(chunk["n"])
        for i in range(n):
            g = gs[i]
            st = int(_plain(g["status"]))
            name = names.get(st, str(st))
            if name in ("Gidle", "Gdead"):
                continue
            yield g, name
        chunk = chunk["next"]


def _state(g, status):
    if status == "Gwaiting":
        r = _string(g["waitreason"])
        return r if r else "waiting"
    return {"Grunnable": "runnable", "Grunning": "running", "Gsyscall": "syscall"}.get(
        status, status)


def find_goroutine(goid):
    for g, st in all_goroutines():
        if int(g["goid"]) == goid:
            return g, st
    return None, None


class GoroGoroutines(gdb.Command):
    """List goro goroutines: goro-goroutines
Prints one line per goroutine (running, runnable, in a syscall or parked):
its id, state or wait reason, name, entry function and creator."""

    def __init__(self):
        super().__init__("goro-goroutines", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        rows = []
        for g, st in all_goroutines():
            entry = _symbol(int(g["fn"])) if int(g["fn"]) else None
            rows.append((int(g["goid"]), _state(g, st), _chars(g["name"]), entry or "?",
                         int(g["parentgoid"]), int(_plain(g["lockedm"])) != 0))
        rows.sort()
        for goid, state, name, entry, parent, locked in rows:
            line = "goroutine %d [%s%s]" % (goid, state, ", locked to thread" if locked else "")
            if name:
                line += ' name="%s"' % name
            line += " entry=%s" % entry
            if parent:
                line += " created-by=goroutine %d" % parent
            gdb.write(line + "\n")
        gdb.write("%d goroutines\n" % len(rows))


def _read_u64(addr):
    inf = gdb.selected_inferior()
    return int.from_bytes(bytes(inf.read_memory(addr, 8)), "little")


def _functions_at(pc):
    """Functions containing pc, innermost (inlined) first, outermost last."""
    out = []
    try:
        block = gdb.block_for_pc(pc)
    except (RuntimeError, gdb.error):
        block = None
    while block is not None:
        if block.function is not None:
            out.append(block.function.print_name)
        block = block.superblock
    return out


def _frame_lines(i, pc):
    """gdb-style lines for the frame of return address pc (numbered from i):
    one per inlined function, innermost first. Returns (lines, next i)."""
    look = pc - 1 if pc else pc  # a return address may follow the last instruction
    fns = _functions_at(look) or [_symbol(look) or "??"]
    sal = gdb.find_pc_line(look) if pc else None
    where = ""
    if sal is not None and sal.symtab is not None:
        where = " at %s:%d" % (sal.symtab.filename, sal.line)
    else:
        try:
            so = gdb.solib_name(pc)
        except gdb.error:
            so = None
        if so:
            where = " from %s" % so
    lines = ["#%-2d 0x%016x in %s%s" % (i, pc, fns[0], where)]
    for fn in fns[1:]:
        i += 1
        lines.append("#%-2d %s (inlined caller)" % (i, fn))
    return lines, i + 1


def _running_thread(g):
    """The gdb thread whose M runs g (an M on sched.allm with curg == g)."""
    sym = gdb.lookup_static_symbol(SCHED)
    if sym is None:
        return None
    m = sym.value()["allm"]
    tid = None
    n = 0
    while int(m) != 0 and n < 100000:
        if int(_plain(m["curg"])) == int(g.address):
            tid = int(m["tid"])
            break
        m = m["alllink"]
        n += 1
    if tid is None:
        return None
    for th in gdb.selected_inferior().threads():
        if th.ptid[1] == tid:
            return th
    return None


class GoroBt(gdb.Command):
    """Backtrace of a goro goroutine: goro-bt ID
A parked or runnable goroutine's stack is walked from the context
Boost.Context saved on it, through the frame-pointer chain. A running
goroutine's thread is found and backtraced with gdb's unwinder."""

    def __init__(self):
        super().__init__("goro-bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        try:
            goid = int(gdb.parse_and_eval(arg)) if arg.strip() else None
        except gdb.error:
            goid = None
        if goid is None:
            raise gdb.GdbError("usage: goro-bt GOROUTINE-ID")
        g, st = find_goroutine(goid)
        if g is None:
            raise gdb.GdbError("goro: no goroutine %d" % goid)
        gdb.write("goroutine %d [%s]:\n" % (goid, _state(g, st)))
        if st in ("Grunning", "Gsyscall"):
            cur = gdb.selected_thread()
            th = _running_thread(g)
            if th is None:
                if cur is not None:
                    cur.switch()
                gdb.write("  running, but no thread shows it as its current goroutine\n")
                return
            gdb.write("  running on thread %d (LWP %d):\n" % (th.num, th.ptid[1]))
            th.switch()
            out = gdb.execute("bt", to_string=True)
            if cur is not None:
                cur.switch()
            gdb.write(out)
            return
        arch = gdb.selected_inferior().architecture().name()
        if "x86-64" not in arch:
            raise gdb.GdbError("goro-bt: parked stacks are walked on x86-64 only (this is %s)" % arch)
        ctx = int(g["ctx"])
        lo = int(g["stack"]["lo"])
        hi = int(g["stack"]["hi"])
        if ctx == 0 and int(g["fresh"]):
            # Spawned, not run yet: its context is made at its first run.
            gdb.write("  not started yet (entry %s)\n" % (_symbol(int(g["fn"])) or "?"))
            return
        if ctx == 0 or not (lo <= ctx < hi):
            raise gdb.GdbError("goro: goroutine %d has no saved context on its stack" % goid)
        pc = _read_u64(ctx + 0x38)
        fp = _read_u64(ctx + 0x30)
        if hi - ctx < 0x100:
            # make_fcontext's initial frame at the top of the stack: the
            # goroutine has never run, there is nothing to walk.
            gdb.write("  not started yet (entry %s)\n" % (_symbol(int(g["fn"])) or "?"))
            return
        i = 0
        frames = 0
        while pc and frames < 256:
            lines, i = _frame_lines(i, pc)
            gdb.write("\n".join(lines) + "\n")
            frames += 1
            if not (lo <= fp < hi) or fp % 8:
                break
            nfp = _read_u64(fp)
            pc = _read_u64(fp + 8)
            if nfp != 0 and nfp <= fp:
                break
            fp = nfp


GoroGoroutines()
GoroBt()
