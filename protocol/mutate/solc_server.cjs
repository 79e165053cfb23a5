#!/usr/bin/env node
// A long-lived solc-js: loads the pinned compiler once, then compiles one standard-JSON input per
// line of stdin and writes one line of standard-JSON output per input to stdout. perpsim mutate
// compiles hundreds of mutants with it, so the WebAssembly compiler is loaded once, not each time.
"use strict";
const fs = require("fs");
const path = require("path");
const readline = require("readline");

const projectRoot = process.argv[2] || process.cwd();
const solc = require(require.resolve("solc", { paths: [projectRoot] }));

function findImports(importPath) {
  const candidates = [
    path.join(projectRoot, "node_modules", importPath),
    path.join(projectRoot, importPath),
  ];
  for (const candidate of candidates) {
    if (fs.existsSync(candidate)) {
      return { contents: fs.readFileSync(candidate, "utf8") };
    }
  }
  return { error: `File not found: ${importPath}` };
}

process.stderr.write(solc.version() + "\n");
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
rl.on("line", (line) => {
  if (!line.trim()) return;
  const out = solc.compile(line, { import: findImports });
  process.stdout.write(out.replace(/\n/g, " ") + "\n");
});
