// The real OpenAI Node SDK (npm `openai`, pinned by tests/services/CMakeLists.txt) against ragd's
// HTTP API, run by openai_sdk_test.cc, which starts ragd and the fake chat server, queues the
// fake's faults in the order used here (two 429s, then an endless stream) and checks the
// upstream side. Prints one JSON line: {"checks": N, "embedding": [...]}. Any failed assertion
// exits non-zero with its message.
import assert from 'node:assert/strict';
import OpenAI, { AzureOpenAI } from 'openai';

const env = (name) => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const baseURL = env('RAGD_BASE_URL');
const azure = env('RAGD_AZURE_MODEL');
const collection = env('RAGD_COLLECTION');
const question = env('RAGD_QUESTION');
const expectedAnswer = env('RAGD_EXPECTED_ANSWER');
const client = new OpenAI({ baseURL, apiKey: env('RAGD_READER_KEY'), maxRetries: 0 });
const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: question },
];
const grounded = (parameters = {}) => [{ type: 'ragd', parameters: { collection, ...parameters } }];
let checks = 0;
const check = (what, fn) => {
  fn();
  checks++;
};
async function expectError(what, promise, Kind, status) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof Kind, `${what}: expected ${Kind.name}, got ${e?.constructor?.name}: ${e}`);
    assert.equal(e.status, status, `${what}: status`);
    assert.equal(typeof e.error?.message, 'string', `${what}: OpenAI error body`);
    checks++;
    return e;
  }
  assert.fail(`${what}: expected ${Kind.name}, the call succeeded`);
}

// The catalog.
const models = [];
for await (const m of client.models.list()) models.push(m);
const deployment = models.find((m) => m.id === azure);
check('models', () => {
  assert.ok(deployment, `models.list has no ${azure}`);
  assert.ok(deployment.ragd.context_window > 0);
  assert.ok(deployment.ragd.price_per_1k_input > 0);
});

// 1st and 2nd upstream requests: 429 twice (ragd retries once), so ragd answers 429.
const limited = await expectError('upstream 429',
  client.chat.completions.create({ model: azure, messages }), OpenAI.RateLimitError, 429);
check('retry-after', () => assert.equal(limited.headers.get('retry-after'), '1'));

// 3rd: an endless stream; the client aborts after three deltas, which closes the upstream
// request (checked by the C++ side).
{
  const controller = new AbortController();
  const stream = await client.chat.completions.create(
    { model: azure, messages, stream: true, data_sources: grounded() },
    { signal: controller.signal });
  let deltas = 0;
  try {
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content) deltas++;
      if (deltas === 3) controller.abort();
    }
  } catch (e) {
    assert.ok(e instanceof OpenAI.APIUserAbortError || e.name === 'AbortError', `abort: ${e}`);
  }
  check('abort', () => assert.equal(deltas, 3));
}

// A grounded answer, not streamed, from the local model: citations in message.context.
{
  const r = await client.chat.completions.create({
    model: 'local', messages, data_sources: grounded({ top_k: 5 }),
  });
  const message = r.choices[0].message;
  check('grounded', () => {
    assert.equal(r.object, 'chat.completion');
    assert.match(message.content, /\[1\]/);
    assert.ok(message.context.citations.length >= 1 && message.context.citations.length <= 5);
    for (const c of message.context.citations) {
      assert.ok(c.content.length > 0 && c.title.length > 0);
      assert.ok(c.chunk_id.includes('#'));
      assert.equal(c.filepath, c.document_id);
      assert.ok(c.byte_begin < c.byte_end);
    }
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  });
}

// A grounded answer streamed from the fake deployment, with usage.
{
  const stream = await client.chat.completions.create({
    model: azure, messages, stream: true, stream_options: { include_usage: true },
    data_sources: grounded(),
  });
  let text = '';
  let citations = null;
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (choice?.delta?.context) citations = choice.delta.context.citations;
    if (choice?.delta?.content) text += choice.delta.content;
    if (choice?.finish_reason) finish = choice.finish_reason;
    if (chunk.usage) usage = chunk.usage;
  }
  check('grounded stream', () => {
    assert.equal(text, expectedAnswer);
    assert.ok(citations && citations.length >= 1);
    assert.equal(finish, 'stop');
    assert.ok(usage && usage.completion_tokens > 0 && usage.prompt_tokens > 0);
  });
}

// A plain relay.
{
  const r = await client.chat.completions.create({ model: azure, messages });
  check('relay', () => {
    assert.equal(r.choices[0].message.content, expectedAnswer);
    assert.equal(r.choices[0].message.context, undefined);
  });
}

// Azure's client, with ragd as its endpoint: /openai/deployments/{model}/... and `api-key`.
const azureClient = new AzureOpenAI({
  endpoint: baseURL.replace(/\/v1$/, ''), apiKey: env('RAGD_READER_KEY'),
  apiVersion: '2024-10-21', maxRetries: 0,
});
{
  const r = await azureClient.chat.completions.create({
    model: azure, messages, data_sources: grounded(),
  });
  check('azure client', () => {
    assert.equal(r.choices[0].message.content, expectedAnswer);
    assert.ok(r.choices[0].message.context.citations.length >= 1);
  });
}

// Embeddings: the SDK asks for base64 by default and decodes it; floats are the same.
const fromBase64 = await client.embeddings.create({ model: 'local', input: question });
const asFloats = await client.embeddings.create({
  model: 'local', input: [question], encoding_format: 'float',
});
check('embeddings', () => {
  assert.equal(fromBase64.data.length, 1);
  assert.equal(fromBase64.data[0].embedding.length, 1536);
  assert.deepEqual(Array.from(fromBase64.data[0].embedding),
    asFloats.data[0].embedding.map((x) => Math.fround(x)));
  assert.ok(fromBase64.usage.prompt_tokens > 0);
});
const fromAzure = await azureClient.embeddings.create({ model: 'local', input: question });
check('azure embeddings', () => {
  assert.deepEqual(Array.from(fromAzure.data[0].embedding), Array.from(fromBase64.data[0].embedding));
});

// Errors, each as the SDK's own error class.
await expectError('unknown model',
  client.chat.completions.create({ model: 'no-such-model', messages }), OpenAI.NotFoundError, 404);
await expectError('unknown collection',
  client.chat.completions.create({
    model: 'local', messages, data_sources: [{ type: 'ragd', parameters: { collection: 'nope' } }],
  }), OpenAI.NotFoundError, 404);
await expectError('search mode',
  client.chat.completions.create({
    model: 'local', messages, data_sources: grounded({ search_mode: 'fuzzy' }),
  }), OpenAI.BadRequestError, 400);
await expectError('unknown key',
  new OpenAI({ baseURL, apiKey: 'wrong', maxRetries: 0 }).models.list(),
  OpenAI.AuthenticationError, 401);
await expectError('scoped key',
  new OpenAI({ baseURL, apiKey: env('RAGD_SCOPED_KEY'), maxRetries: 0 }).chat.completions.create({
    model: 'local', messages, data_sources: grounded(),
  }), OpenAI.PermissionDeniedError, 403);

console.log(JSON.stringify({ checks, embedding: Array.from(fromBase64.data[0].embedding) }));
