// scripts/check-import-cycles.mjs: it names a cycle and fails, passes a graph without one, and
// passes the page's own modules (frontend/js).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { importsOf } from '../../scripts/check-import-cycles.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHECKER = path.join(ROOT, 'scripts/check-import-cycles.mjs');

/** A folder of modules: { 'name.js': 'source' }. */
function fixture(files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'import-cycles-'));
  for (const [name, source] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), source);
  }
  return dir;
}

function check(...targets) {
  const run = spawnSync(process.execPath, [CHECKER, ...targets], { cwd: ROOT, encoding: 'utf8' });
  return { status: run.status, out: run.stdout + run.stderr };
}

test('a cycle fails the check and is named, file by file', (t) => {
  const dir = fixture({
    'commands.js': "import { send } from './connection.js';\nexport const go = () => send();\n",
    'connection.js': "import { onFrame } from './messages.js';\nexport function send() {}\n",
    'messages.js': "import { go } from './commands.js';\nexport function onFrame() { go(); }\n",
    'config.js': 'export const A = 1;\n',
  });
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { status, out } = check(dir);
  assert.equal(status, 1, out);
  const names = (s) => s.replaceAll(`${path.relative(ROOT, dir)}/`, '');
  assert.match(names(out), /import cycle: commands\.js → connection\.js → messages\.js → commands\.js/);
  assert.doesNotMatch(out, /config\.js/);
});

test('a module importing itself is a cycle too', (t) => {
  const dir = fixture({ 'loop.js': "export * from './loop.js';\n" });
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { status, out } = check(dir);
  assert.equal(status, 1, out);
  assert.match(out, /loop\.js → .*loop\.js/);
});

test('imports that only point downward pass, however many lead to one module', (t) => {
  const dir = fixture({
    'app.js': "import './a.js';\nimport { b } from './b.js';\nimport('./lazy/c.js');\n",
    'a.js': "import { b } from './b.js';\nexport const a = b;\n",
    'b.js': "import { c } from './lazy/c.js';\nexport const b = c;\n",
    'lazy/c.js': "// import { a } from '../a.js'; (a comment: not an import)\nexport const c = '../a.js';\n",
  });
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { status, out } = check(dir);
  assert.equal(status, 0, out);
  assert.match(out, /no import cycle among 4 modules/);
});

test('what counts as an import', () => {
  const source = [
    "import { a,\n  b } from './ab.js';",
    "import c from \"./c.js\";",
    "import './side-effect.js';",
    "export { d } from './d.js';",
    "export * from './e.js';",
    "const f = await import('./f.js');",
    "import os from 'node:os';",
    "/* import { g } from './g.js'; */",
    "// export * from './h.js';",
    "const url = `${scheme}//${host}/ws`; import { i } from './i.js';",
    "const s = 'import x from \"./not.js\"';",
  ].join('\n');
  assert.deepEqual(importsOf(source),
    ['./ab.js', './c.js', './side-effect.js', './d.js', './e.js', './i.js', './f.js']);
});

test('the page\'s modules have no import cycle', () => {
  const { status, out } = check('frontend/js');
  assert.equal(status, 0, out);
});

test('without a folder it says how to use it', () => {
  assert.equal(check().status, 2);
  assert.equal(check('/nonexistent/folder').status, 2);
});
