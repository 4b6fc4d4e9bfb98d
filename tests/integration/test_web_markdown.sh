#!/bin/bash
# The chat page's Markdown renderer (src/server/web/markdown.js) in Debian's headless
# chromium: literal cases render to the expected HTML (code blocks, an unclosed fence of a
# reply still streaming, lists, headings, quotes, emphasis, links), and its safety claim
# holds for 3000 random strings of Markdown's and HTML's special characters: parsed by the
# browser, the output holds only the renderer's own tags, no event-handler attribute, and
# links to http(s) only; its visible letters are the input's (nothing lost or invented).
set -euo pipefail
command -v chromium >/dev/null || { echo "SKIP: chromium not installed"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
TMP="$TMP" python3 - <<'PY'
import json, os, sys
sys.path.insert(0, os.environ["KVSPILL_SOURCE_DIR"] + "/tests/support")
from cdp import Browser

SRC = open(os.environ["KVSPILL_SOURCE_DIR"] + "/src/server/web/markdown.js").read()
A = ' rel="noopener noreferrer" target="_blank"'
CASES = [
    ("Hello **world** and __you__", "<p>Hello <strong>world</strong> and <strong>you</strong></p>"),
    ("a *b* c", "<p>a <em>b</em> c</p>"),
    ("line one\nline two", "<p>line one<br>line two</p>"),
    ("para one\n\npara two", "<p>para one</p>\n<p>para two</p>"),
    ("```c\nint x = 1 < 2;\n  y();\n```", '<pre><code class="language-c">int x = 1 &lt; 2;\n  y();</code></pre>'),
    ("text\n```py\nprint(1)", '<p>text</p>\n<pre><code class="language-py">print(1)</code></pre>'),
    ("```\n**not bold** <b>\n```\nafter", "<pre><code>**not bold** &lt;b&gt;</code></pre>\n<p>after</p>"),
    ("`a **b** <i>` c", "<p><code>a **b** &lt;i&gt;</code> c</p>"),
    ("- a\n- b\n\n1. x\n2) y", "<ul><li>a</li><li>b</li></ul>\n<ol><li>x</li><li>y</li></ol>"),
    ("- a\n1. b", "<ul><li>a</li></ul>\n<ol><li>b</li></ol>"),
    ("# Title\n### Sub *x*\n> quoted **q**",
     "<h1>Title</h1>\n<h3>Sub <em>x</em></h3>\n<blockquote>quoted <strong>q</strong></blockquote>"),
    ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
    ("[docs](https://example.org/a?b=1&c=2) [bad](javascript:alert(1))",
     '<p><a href="https://example.org/a?b=1&amp;c=2"%s>docs</a> [bad](javascript:alert(1))</p>' % A),
    ('[x](https://a.org/"onmouseover=1)', '<p><a href="https://a.org/&quot;onmouseover=1"%s>x</a></p>' % A),
    ("it's \"quoted\" & more", "<p>it&#39;s &quot;quoted&quot; &amp; more</p>"),
    ("a\r\nb", "<p>a<br>b</p>"),
    ("`x` \u00000\u0000", "<p><code>x</code> \ufffd0\ufffd</p>"),
    ("", ""),
]

FUZZ = r"""
(() => {
  const ALLOWED = new Set(["P", "BR", "STRONG", "EM", "CODE", "PRE", "UL", "OL", "LI", "H1", "H2",
    "H3", "H4", "H5", "H6", "BLOCKQUOTE", "A", "DIV"]);
  const ATTRS = new Set(["href", "rel", "target", "class"]);
  const parts = ["*", "**", "_", "__", "`", "```", "```js", "#", "# ", "- ", "1. ", "> ", "[", "]",
    "(", ")", "](", "https://x.org/", "javascript:", "<", ">", "<img src=x onerror=alert(1)>",
    "\"", "'", "&", "&lt;", "onclick=", "\n", "\n\n", " ", "word", "\u00e9", "\u0000"];
  let seed = 12345;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const problems = [];
  for (let k = 0; k < 3000 && problems.length < 5; k++) {
    let s = "";
    for (let j = rnd(40); j >= 0; j--) s += parts[rnd(parts.length)];
    const div = document.createElement("div");
    div.innerHTML = Markdown.render(s);
    for (const e of div.querySelectorAll("*")) {
      if (!ALLOWED.has(e.tagName)) problems.push([s, "tag " + e.tagName]);
      for (const a of e.attributes) {
        if (!ATTRS.has(a.name)) problems.push([s, "attribute " + a.name]);
        if (a.name === "href" && !/^https?:\/\//.test(a.value)) problems.push([s, "href " + a.value]);
      }
    }
    // The visible letters are the input's, as a multiset (markup characters aside; a link's
    // address and a fence's language leave the text for attributes; NUL shows as U+FFFD).
    document.body.append(div);
    const langs = [...div.querySelectorAll("code[class]")].map((e) => e.className.slice(9));
    const words = (t) => (t.replace(/https:\/\/x\.org\//g, " ").match(/[A-Za-z\u00e9]/g) || []).sort().join("");
    const shown = words(div.innerText + " " + langs.join(" "));
    const given = words(s.replace(/\u0000/g, "\ufffd"));
    div.remove();
    if (shown !== given)
      problems.push([s, "text " + JSON.stringify(shown) + " != " + JSON.stringify(given)]);
  }
  return JSON.stringify(problems);
})()
"""

b = Browser(os.environ["TMP"])
try:
    b.goto("about:blank")
    b.eval("(() => { const s = document.createElement('script'); s.textContent = %s;"
           " document.head.append(s); })()" % json.dumps(SRC + "\nwindow.Markdown = Markdown;"))
    got = json.loads(b.eval("JSON.stringify(%s.map((c) => Markdown.render(c)))"
                            % json.dumps([c for c, _ in CASES])))
    bad = [(c, w, g) for (c, w), g in zip(CASES, got) if g != w]
    for c, w, g in bad:
        print("input %r\n  want %r\n  got  %r" % (c, w, g), file=sys.stderr)
    assert not bad, "%d of %d cases differ" % (len(bad), len(CASES))
    problems = json.loads(b.eval(FUZZ))
    assert not problems, problems
finally:
    b.close()
print("markdown: %d cases, 3000 random strings: ok" % len(CASES))
PY
