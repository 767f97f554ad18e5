// Validate docs/asyncapi.yaml with the real AsyncAPI parser and print one JSON report.
//
//   node tests/asyncapi_validate.mjs NODE_PREFIX DOCUMENT [SAMPLES]
//
// NODE_PREFIX is where `npm install --prefix` put @asyncapi/parser and ajv (tests use
// .cache/asyncapi). SAMPLES is an optional JSON file {"channel id": [payload, ...]};
// each payload is validated against the payload schema of that channel's message, as
// the parser resolved it, so the document is checked against what the agent sends.
//
// The parser validates the document and resolves every $ref (our schema files
// included), but for AsyncAPI 3 it does not validate payload schemas in another
// format: ours are JSON Schema draft 2020-12, so this script checks each one
// against the 2020-12 meta-schema and compiles it with Ajv's 2020-12 dialect,
// reporting problems as error diagnostics (code edge-agent-payload-schema).

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const [prefix, documentPath, samplesPath] = process.argv.slice(2);
if (!prefix || !documentPath) {
  console.error("usage: asyncapi_validate.mjs NODE_PREFIX DOCUMENT [SAMPLES]");
  process.exit(2);
}
const require = createRequire(join(resolve(prefix), "package.json"));
const { Parser, fromFile } = require("@asyncapi/parser");
const Ajv2020 = require("ajv/dist/2020").default;
const addFormats = require("ajv-formats").default;

const FORMATS = new Set([
  "application/schema+json;version=draft-2020-12",
  "application/schema+yaml;version=draft-2020-12",
  "application/schema;version=draft-2020-12",
]);

function newAjv() {
  // One instance per schema: our schema files carry $ids, and the same file is
  // inlined into several messages, which one shared instance would refuse.
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  return ajv;
}

/** The payload schema of a message: [format, schema] (a bare schema has no format). */
function payloadOf(message) {
  const raw = message.payload().json();
  return raw.schemaFormat !== undefined ? [raw.schemaFormat, raw.schema] : [null, raw];
}

/** Problems with one payload schema, as messages; empty when it is sound. */
function checkPayloadSchema(format, schema) {
  if (!FORMATS.has(format)) {
    return [`payload schemaFormat is ${JSON.stringify(format)}, expected draft 2020-12`];
  }
  const ajv = newAjv();
  if (!ajv.validateSchema(schema)) {
    return ajv.errors.map((e) => `not a valid draft 2020-12 schema at ${e.instancePath || "/"}: ${e.message}`);
  }
  try {
    ajv.compile(schema);
  } catch (e) {
    return [`schema does not compile: ${e.message}`];
  }
  return [];
}

const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, resolve(documentPath)).parse();

const report = {
  diagnostics: diagnostics.map((d) => ({
    code: String(d.code),
    severity: d.severity, // 0 error, 1 warning, 2 information, 3 hint (Spectral)
    message: d.message,
    path: d.path.join("/"),
    line: d.range ? d.range.start.line + 1 : null,
  })),
  channels: {},
  operations: {},
  samples: [],
};

if (document) {
  for (const channel of document.channels()) {
    report.channels[channel.id()] = {
      address: channel.address(),
      parameters: channel.parameters().all().map((p) => p.id()),
      messages: channel.messages().all().map((m) => m.id()),
    };
  }
  for (const op of document.operations()) {
    const mqtt = op.bindings().get("mqtt");
    const value = mqtt ? mqtt.value() : {};
    report.operations[op.id()] = {
      action: op.action(),
      channels: op.channels().all().map((c) => c.id()),
      qos: value.qos ?? null,
      retain: value.retain ?? null,
      tags: op.tags().all().map((t) => t.name()),
    };
  }
  for (const message of document.allMessages()) {
    if (!message.hasPayload()) continue;
    const [format, schema] = payloadOf(message);
    for (const problem of checkPayloadSchema(format, schema)) {
      report.diagnostics.push({
        code: "edge-agent-payload-schema",
        severity: 0,
        message: `message ${message.id()}: ${problem}`,
        path: `components/messages/${message.id()}/payload`,
        line: null,
      });
    }
  }
  if (samplesPath) {
    const samples = JSON.parse(readFileSync(samplesPath, "utf8"));
    for (const [channelId, payloads] of Object.entries(samples)) {
      const channel = document.channels().get(channelId);
      const message = channel ? channel.messages().all()[0] : undefined;
      if (!message || !message.hasPayload()) {
        report.samples.push({ channel: channelId, index: -1, valid: false, errors: ["no payload"] });
        continue;
      }
      let validate;
      try {
        validate = newAjv().compile(payloadOf(message)[1]);
      } catch (e) {
        report.samples.push({ channel: channelId, index: -1, valid: false, errors: [e.message] });
        continue;
      }
      payloads.forEach((payload, index) => {
        const valid = validate(payload);
        const errors = valid ? [] : validate.errors.map((e) => `${e.instancePath} ${e.message}`);
        report.samples.push({ channel: channelId, index, valid, errors });
      });
    }
  }
}

process.stdout.write(JSON.stringify(report) + "\n");
