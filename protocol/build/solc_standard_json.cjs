#!/usr/bin/env node
// Runs the pinned solc-js (WebAssembly) on standard-JSON input and writes standard-JSON output.
// By default it compiles the one input read from stdin. With --lines it stays loaded and
// compiles one input per line of stdin, writing one line of output for each (perpsim mutate
// compiles hundreds of mutants this way, loading the compiler once). Imports that are not
// inlined in the input (OpenZeppelin) are resolved from node_modules, so no compiler binary or
// network access is ever needed.
"use strict";
const fs = require("fs");
const path = require("path");
const readline = require("readline");

const args = process.argv.slice(2);
const lines = args.includes("--lines");
const projectRoot = args.find((a) => a !== "--lines") || process.cwd();
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

if (lines) {
  process.stderr.write(solc.version() + "\n");
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  rl.on("line", (line) => {
    if (!line.trim()) return;
    const out = solc.compile(line, { import: findImports });
    process.stdout.write(out.replace(/\n/g, " ") + "\n");
  });
} else {
  const input = fs.readFileSync(0, "utf8");
  process.stdout.write(solc.compile(input, { import: findImports }));
  process.stdout.write("\n");
  process.stderr.write(solc.version() + "\n");
}
