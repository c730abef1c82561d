// Checks an OpenAPI 3.1 document and validates recorded HTTP responses against it.
//
//   node tools/openapi/validate.mjs docs/openapi.yaml [RESPONSES_DIR ...]
//
// 1. The document is validated against the OpenAPI 3.1 schema and its $refs resolved
//    (@apidevtools/swagger-parser).
// 2. Each response recorded in RESPONSES_DIR (N.meta: method, path, status, content type, one a
//    line; N.body: the body as received) is matched to its operation by method and path template,
//    then to the response of its status (else `default`); its content type must be one the
//    response declares, and its body must validate against that schema (Ajv, JSON Schema
//    2020-12, formats checked). application/x-ndjson bodies are validated line by line. A path
//    no operation matches is validated against `x-probity-any-other-path`.
// Prints every failure and "N passed, M failed"; exits 1 on any failure.
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import fs from 'node:fs';
import path from 'node:path';

const [specPath, ...dirs] = process.argv.slice(2);
if (!specPath) {
  console.error('usage: validate.mjs OPENAPI_FILE [RESPONSES_DIR ...]');
  process.exit(2);
}

let api;
try {
  await SwaggerParser.validate(specPath);
  api = await SwaggerParser.dereference(specPath);
} catch (e) {
  console.error(`${specPath}: not a valid OpenAPI document: ${e.message}`);
  process.exit(1);
}
console.log(`${specPath}: valid OpenAPI ${api.openapi}, ${Object.keys(api.paths).length} paths`);

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);
const compiled = new Map();
function validator(schema) {
  if (!compiled.has(schema)) compiled.set(schema, ajv.compile(schema));
  return compiled.get(schema);
}

// Path templates as regular expressions; literal paths win over templated ones.
const routes = Object.keys(api.paths)
  .map((p) => ({
    template: p,
    literal: !p.includes('{'),
    re: new RegExp('^' + p.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+') + '$'),
  }))
  .sort((a, b) => Number(b.literal) - Number(a.literal));

function responseFor(method, urlPath, status) {
  const route = routes.find((r) => r.re.test(urlPath));
  if (!route) return { where: 'x-probity-any-other-path', response: api['x-probity-any-other-path'] };
  const op = api.paths[route.template][method.toLowerCase()];
  if (!op) return { where: `${route.template} (no ${method})`, response: api['x-probity-any-other-path'] };
  const response = op.responses[String(status)] ?? op.responses.default;
  return { where: `${method} ${route.template} ${status}`, response };
}

let passed = 0;
let failed = 0;
function fail(name, why) {
  failed++;
  console.log(`FAIL ${name}: ${why}`);
}

for (const dir of dirs) {
  const metas = fs.readdirSync(dir).filter((f) => f.endsWith('.meta')).sort();
  for (const metaFile of metas) {
    const base = path.join(dir, metaFile.slice(0, -5));
    const [method, urlPath, statusText, contentTypeRaw = ''] = fs
      .readFileSync(base + '.meta', 'utf8')
      .split('\n');
    const body = fs.readFileSync(base + '.body', 'utf8');
    const status = Number(statusText);
    const name = `${base} (${method} ${urlPath} ${status})`;
    const { where, response } = responseFor(method, urlPath, status);
    if (!response) {
      fail(name, `${where}: the document declares no response for this status`);
      continue;
    }
    const contentType = contentTypeRaw.split(';')[0].trim();
    const media = response.content?.[contentType];
    if (!media) {
      fail(name, `${where}: content type '${contentType}' is not one of ${Object.keys(response.content ?? {}).join(', ') || 'none'}`);
      continue;
    }
    const validate = validator(media.schema);
    const docs = [];
    try {
      if (contentType === 'application/x-ndjson') {
        for (const line of body.split('\n')) if (line.length > 0) docs.push(JSON.parse(line));
      } else {
        docs.push(JSON.parse(body));
      }
    } catch (e) {
      fail(name, `body is not JSON: ${e.message}`);
      continue;
    }
    const errors = [];
    docs.forEach((doc, i) => {
      if (!validate(doc)) {
        errors.push(`${docs.length > 1 ? `line ${i + 1}: ` : ''}${ajv.errorsText(validate.errors, { separator: '; ' })}`);
      }
    });
    if (errors.length > 0) fail(name, `${where}: ${errors.slice(0, 3).join(' | ')}`);
    else passed++;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
