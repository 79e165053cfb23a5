#!/usr/bin/env node
// Runs the pinned solc-js (WebAssembly) on a standard-JSON input read from stdin and writes the
// standard-JSON output to stdout. Imports that are not inlined in the input (OpenZeppelin) are
// resolved from node_modules, so no compiler binary or network access is ever needed.
"use strict";
const fs = require("fs");
const path = require("path");

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

const input = fs.readFileSync(0, "utf8");
process.stdout.write(solc.compile(input, { import: findImports }));
process.stdout.write("\n");
process.stderr.write(solc.version() + "\n");
