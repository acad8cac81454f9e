// Validates an AsyncAPI document with the AsyncAPI parser (the one @asyncapi/cli uses): it must
// parse, resolve every $ref and pass the parser's rules with no error. Warnings are printed.
//
//   node tests/asyncapi/validate.mjs docs/asyncapi.yaml
import { readFile } from 'node:fs/promises';
import { Parser } from '@asyncapi/parser';

const SEVERITY = ['error', 'warning', 'info', 'hint'];

const path = process.argv[2];
if (!path) {
  console.error('usage: node validate.mjs ASYNCAPI.yaml');
  process.exit(2);
}
const { document, diagnostics } = await new Parser().parse(await readFile(path, 'utf8'), { source: path });
for (const d of diagnostics) {
  const where = d.path?.length ? d.path.join('.') : '(document)';
  console.log(`asyncapi: ${SEVERITY[d.severity]}: ${where}: ${d.message} [${d.code}]`);
}
const errors = diagnostics.filter((d) => d.severity === 0);
if (!document || errors.length) {
  console.error(`asyncapi: FAILED: ${path} has ${errors.length} error(s)`);
  process.exit(1);
}
const channels = document.channels().all().map((c) => `${c.address()} (${c.messages().all().length} messages)`);
console.log(`asyncapi: ${path} is valid AsyncAPI ${document.version()}: ${channels.join(', ')}`);
