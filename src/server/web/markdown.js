// A small Markdown renderer for the model's replies: fenced code blocks, inline code,
// headings, bold, italic, lists, block quotes, links (http/https only) and paragraphs.
// Safe by construction: every piece of text is HTML-escaped before any markup is added,
// and only the tags written here can appear in the output.
"use strict";

const Markdown = (() => {
  function escapeHtml(s) {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  // Inline markup of one escaped line; code spans are set aside first so that nothing
  // inside them is interpreted.
  function inline(escaped) {
    const codes = [];
    let s = escaped.replace(/`([^`]+)`/g, (_, c) => {
      codes.push("<code>" + c + "</code>");
      return "\u0000" + (codes.length - 1) + "\u0000";
    });
    s = s.replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
      .replace(/__([^_]+)__/g, "<strong>$1</strong>")
      .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>")
      .replace(/\[([^\]]+)\]\((https?:\/\/[^\s)"]+)\)/g,
        '<a href="$2" rel="noopener noreferrer" target="_blank">$1</a>');
    return s.replace(/\u0000(\d+)\u0000/g, (_, i) => codes[Number(i)]);
  }

  function render(text) {
    // NUL marks the code spans set aside in inline(): one in the text becomes U+FFFD, as
    // an HTML parser would make it.
    const lines = text.replace(/\u0000/g, "\ufffd").replace(/\r\n?/g, "\n").split("\n");
    const out = [];
    let para = [], list = null; // list: {tag, items}
    const flushPara = () => {
      if (para.length) out.push("<p>" + para.map(inline).join("<br>") + "</p>");
      para = [];
    };
    const flushList = () => {
      if (list) out.push("<" + list.tag + ">" +
        list.items.map((i) => "<li>" + inline(i) + "</li>").join("") + "</" + list.tag + ">");
      list = null;
    };
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const fence = /^\s*```\s*([\w+#.-]*)\s*$/.exec(line);
      if (fence) {
        flushPara(); flushList();
        const code = [];
        // An unclosed fence (a reply still streaming) runs to the end.
        for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i++) code.push(lines[i]);
        const lang = fence[1] ? ' class="language-' + escapeHtml(fence[1]) + '"' : "";
        out.push("<pre><code" + lang + ">" + escapeHtml(code.join("\n")) + "</code></pre>");
        continue;
      }
      const esc = escapeHtml(line);
      const h = /^(#{1,6})\s+(.*)$/.exec(esc);
      const ul = /^\s*[-*+]\s+(.*)$/.exec(esc);
      const ol = /^\s*\d+[.)]\s+(.*)$/.exec(esc);
      const quote = /^&gt;\s?(.*)$/.exec(esc);
      if (!line.trim()) {
        flushPara(); flushList();
      } else if (h) {
        flushPara(); flushList();
        const n = h[1].length;
        out.push("<h" + n + ">" + inline(h[2]) + "</h" + n + ">");
      } else if (ul || ol) {
        flushPara();
        const tag = ul ? "ul" : "ol";
        if (list && list.tag !== tag) flushList();
        if (!list) list = { tag, items: [] };
        list.items.push((ul || ol)[1]);
      } else if (quote) {
        flushPara(); flushList();
        out.push("<blockquote>" + inline(quote[1]) + "</blockquote>");
      } else {
        flushList();
        para.push(esc);
      }
    }
    flushPara(); flushList();
    return out.join("\n");
  }

  return { render, escapeHtml };
})();
