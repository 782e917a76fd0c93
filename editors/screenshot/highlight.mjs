// Highlight .flow files with editors/flow.tmLanguage.json through shiki (Oniguruma, as VS Code)
// and print, as JSON, each file's HTML and any text the grammar scoped invalid.illegal.
//   node highlight.mjs GRAMMAR THEME FILE...
import { readFileSync } from "node:fs";
import { createHighlighter } from "shiki";

const [grammarPath, theme, ...files] = process.argv.slice(2);
const grammar = { ...JSON.parse(readFileSync(grammarPath, "utf8")), name: "flow" };
const highlighter = await createHighlighter({ themes: [theme], langs: [grammar] });

const results = files.map((file) => {
  const code = readFileSync(file, "utf8").replace(/\n$/, "");
  const { tokens } = highlighter.codeToTokens(code, { lang: "flow", theme, includeExplanation: true });
  const illegal = tokens
    .flat()
    .filter((t) => (t.explanation ?? []).some((e) => e.scopes.some((s) => s.scopeName.startsWith("invalid"))))
    .map((t) => t.content);
  return { file, html: highlighter.codeToHtml(code, { lang: "flow", theme }), illegal };
});
process.stdout.write(JSON.stringify(results));
