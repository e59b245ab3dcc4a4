// Checks a running `mm1 serve` with the official OpenAI Node client (npm package "openai"): model list, a chat
// completion with an image (whole and streamed, which must agree), stream usage, legacy completions, and the
// 404 for an unknown model. Not part of `mvn test`.
//
//   npm install --prefix /tmp/oai openai
//   ./mm1 init --preset tiny-test --out /tmp/tiny && ./mm1 serve --model /tmp/tiny &
//   NODE_PATH=/tmp/oai/node_modules node scripts/openai_client_check.cjs http://127.0.0.1:8080/v1 tiny
'use strict';
const OpenAI = require('openai');

// An 8×8 PNG, red left half, blue right half (written by ImageIO; any PNG/JPEG works).
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAFklEQVR4XmO4YGAARwYJF+CIYWhJAADmmVIBVcZRbwAAAABJRU5ErkJggg==';

async function main() {
  const [baseURL = 'http://127.0.0.1:8080/v1', model = 'tiny'] = process.argv.slice(2);
  const client = new OpenAI({ baseURL, apiKey: process.env.MM1_API_KEY || 'none' });
  const models = await client.models.list();
  console.log('models:', models.data.map((m) => m.id).join(', '));

  const messages = [{
    role: 'user',
    content: [
      { type: 'image_url', image_url: { url: 'data:image/png;base64,' + PNG } },
      { type: 'text', text: 'What is in this image?' },
    ],
  }];
  const whole = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0 });
  const text = whole.choices[0].message.content;
  console.log('non-streaming:', JSON.stringify(text), 'finish:', whole.choices[0].finish_reason,
    'usage:', JSON.stringify(whole.usage));

  const stream = await client.chat.completions.create({
    model, messages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  let streamed = '';
  let chunks = 0;
  let usage = null;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) streamed += c.delta.content || '';
  }
  console.log('streaming:', JSON.stringify(streamed), 'chunks:', chunks, 'usage:', JSON.stringify(usage));
  if (streamed !== text) throw new Error('streamed text differs from the non-streamed one');
  if (!usage || usage.prompt_tokens !== whole.usage.prompt_tokens) throw new Error('stream usage missing or wrong');

  const legacy = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 5, temperature: 0 });
  console.log('legacy completion:', JSON.stringify(legacy.choices[0].text), 'usage:', JSON.stringify(legacy.usage));

  try {
    await client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] });
    throw new Error('an unknown model was accepted');
  } catch (e) {
    if (!(e instanceof OpenAI.NotFoundError)) throw e;
    console.log('unknown model:', e.status, e.code, '-', e.message);
  }
  console.log('OK: the OpenAI Node client', require('openai/version').VERSION, 'works with', baseURL);
}

main().catch((e) => { console.error('FAILED:', e); process.exit(1); });
