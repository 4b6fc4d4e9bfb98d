# Turns the kernel launches of a .cu file into calls g++ compiles (tests/gpu/emu/run.sh):
# `kernel<<<grid, block, smem, stream>>>(args);` becomes
# `emu_launch(dim3(grid), dim3(block), smem, stream, [&] { kernel(args); });`, and the file
# starts with the emulation's prelude (emu_kernel.h). Writes the result to stdout.
import re, sys
src = open(sys.argv[1]).read()
def split_top(s):
    out, depth, cur = [], 0, ''
    for ch in s:
        if ch in '([{<' and ch != '<': depth += 1
        if ch in ')]}': depth -= 1
        if ch == ',' and depth == 0:
            out.append(cur.strip()); cur = ''
        else:
            cur += ch
    out.append(cur.strip()); return out
pat = re.compile(r'([A-Za-z_]\w*(?:<[^<>;]*>)?)<<<(.*?)>>>\((.*?)\);', re.S)
def rep(m):
    name, cfg, args = m.group(1), m.group(2), m.group(3)
    c = split_top(cfg)
    while len(c) < 4: c.append('0')
    return 'emu_launch(dim3(%s), dim3(%s), %s, %s, [&] { %s(%s); });' % (
        c[0], c[1], c[2], c[3], name, args)
out, n = pat.subn(rep, src)
if '<<<' in out:
    sys.exit('%s: a launch rewrite.py does not understand' % sys.argv[1])
sys.stdout.write('#include "emu_kernel.h"\n' + out)
