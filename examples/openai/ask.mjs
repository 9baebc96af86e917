// An OpenAI SDK app pointed at ragd: the only ragd-specific parts are the base URL and the
// `data_sources` entry that grounds the answer in a collection (Azure OpenAI "On Your Data"'s
// shape). Run by tests/services/openai_sdk_test, so it cannot rot.
//
//   npm install openai
//   RAGD_API_KEY=... node ask.mjs "임베딩이란 무엇인가요?" --collection docs --model gpt-4o
import OpenAI from 'openai';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args.splice(i, 2)[1] : fallback;
};
const collection = option('collection', 'docs');
const model = option('model', 'local');
const question = args.join(' ');

const client = new OpenAI({
  baseURL: process.env.RAGD_BASE_URL ?? 'http://127.0.0.1:8080/v1',
  apiKey: process.env.RAGD_API_KEY ?? 'none', // any value when ragd has no API keys
});

const stream = await client.chat.completions.create({
  model,
  messages: [{ role: 'user', content: question }],
  stream: true,
  stream_options: { include_usage: true },
  data_sources: [{ type: 'ragd', parameters: { collection, top_k: 8 } }],
});
let citations = [];
for await (const chunk of stream) {
  const delta = chunk.choices[0]?.delta;
  if (delta?.context) citations = delta.context.citations;
  if (delta?.content) process.stdout.write(delta.content);
  if (chunk.usage) {
    const u = chunk.usage;
    process.stdout.write(`\n\ntokens: prompt ${u.prompt_tokens}, completion ${u.completion_tokens}\n`);
  }
}
console.log('Sources:');
citations.forEach((c, i) => {
  console.log(`[${i + 1}] ${c.title}  (${c.chunk_id}, bytes ${c.byte_begin}-${c.byte_end})`);
});
