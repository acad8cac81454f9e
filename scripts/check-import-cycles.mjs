#!/usr/bin/env node
// Fails when the ES modules under the given folders (or files) import each other in a cycle,
// and names every cycle. Used by the test command on frontend/js: the page's modules must only
// import downward (app.js wires them together).
//
//   node scripts/check-import-cycles.mjs DIR_OR_FILE...
//
// Exit status: 0 no cycle, 1 a cycle (each printed as "a.js → b.js → a.js"), 2 bad usage.
// Only relative imports count ("./x.js", "../y.mjs"): static imports, re-exports and
// import("…") with a literal; comments are skipped. No dependencies.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const MODULE_EXT = /\.(m?js)$/;

/** Every module file under `target` (a folder, searched recursively, or one file). */
export function listModules(target) {
  const stat = fs.statSync(target);
  if (stat.isFile()) return [path.resolve(target)];
  const found = [];
  for (const entry of fs.readdirSync(target, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = path.join(target, entry.name);
    if (entry.isDirectory()) found.push(...listModules(full));
    else if (MODULE_EXT.test(entry.name)) found.push(path.resolve(full));
  }
  return found.sort();
}

/** The source with comments blanked out (strings and template literals are kept as they are). */
export function stripComments(source) {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      i = end < 0 ? source.length : end + 2;
      out += ' ';
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < source.length && source[j] !== c) j += source[j] === '\\' ? 2 : 1;
      out += source.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const STATIC_IMPORT = /(?:^|[\s;}])(?:import|export)\s*(?:[\w$*{}\s,]*?\s*from\s*)?(['"])([^'"\n]+)\1/g;
const DYNAMIC_IMPORT = /\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g;

/** The relative specifiers a module's source imports, in order, each once. */
export function importsOf(source) {
  const code = stripComments(source);
  const specifiers = [];
  for (const re of [STATIC_IMPORT, DYNAMIC_IMPORT]) {
    for (const match of code.matchAll(re)) {
      const spec = match[2];
      if ((spec.startsWith('./') || spec.startsWith('../')) && !specifiers.includes(spec)) specifiers.push(spec);
    }
  }
  return specifiers;
}

/** file -> the files it imports (only those among `files`), and the imports that lead nowhere. */
export function importGraph(files) {
  const known = new Set(files);
  const graph = new Map();
  const missing = [];
  for (const file of files) {
    const targets = [];
    for (const spec of importsOf(fs.readFileSync(file, 'utf8'))) {
      const target = path.resolve(path.dirname(file), spec);
      if (known.has(target)) targets.push(target);
      else if (!fs.existsSync(target)) missing.push(`${file} imports ${spec}, which does not exist`);
    }
    graph.set(file, targets);
  }
  return { graph, missing };
}

/**
 * The cycles, one per strongly connected component (Tarjan's algorithm): `path` is one cycle,
 * the files along it with the first repeated at the end; `members` are all the files of the
 * component (every one of them reaches every other).
 */
export function findCycles(graph) {
  let counter = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const cycles = [];

  function visit(node) {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) || []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node), low.get(next)));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node), index.get(next)));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component = new Set();
    let member;
    do {
      member = stack.pop();
      onStack.delete(member);
      component.add(member);
    } while (member !== node);
    const selfImport = (graph.get(node) || []).includes(node);
    if (component.size > 1 || selfImport) {
      cycles.push({ path: cycleWithin(graph, component, node), members: [...component].sort() });
    }
  }

  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return cycles;
}

/** One cycle through `start` using only files of `component` (breadth-first: a shortest one). */
function cycleWithin(graph, component, start) {
  const cameFrom = new Map();
  const queue = [start];
  while (queue.length) {
    const node = queue.shift();
    for (const next of graph.get(node) || []) {
      if (!component.has(next)) continue;
      if (next === start) {
        const cycle = [start];
        for (let at = node; at !== start; at = cameFrom.get(at)) cycle.splice(1, 0, at);
        return [...cycle, start];
      }
      if (!cameFrom.has(next)) {
        cameFrom.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start, start];
}

function main(targets) {
  if (!targets.length || targets.some((t) => t === '-h' || t === '--help')) {
    console.error('usage: node scripts/check-import-cycles.mjs DIR_OR_FILE...');
    return 2;
  }
  let files;
  try {
    files = [...new Set(targets.flatMap(listModules))];
  } catch (err) {
    console.error(`check-import-cycles: ${err.message}`);
    return 2;
  }
  const { graph, missing } = importGraph(files);
  for (const line of missing) console.error(`check-import-cycles: warning: ${line}`);
  const cycles = findCycles(graph);
  const name = (file) => path.relative(process.cwd(), file) || file;
  if (!cycles.length) {
    console.log(`check-import-cycles: no import cycle among ${files.length} modules`);
    return 0;
  }
  for (const { path: cycle, members } of cycles) {
    console.error(`import cycle: ${cycle.map(name).join(' → ')}`);
    if (members.length > cycle.length - 1) console.error(`  modules in this tangle: ${members.map(name).join(', ')}`);
  }
  console.error(`check-import-cycles: ${cycles.length} import cycle(s) among ${files.length} modules`);
  return 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] || '').href) process.exitCode = main(process.argv.slice(2));
