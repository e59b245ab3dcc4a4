// mm1j chat page: keeps the conversation (text and images) in the page, sends it to /v1/chat/completions with
// stream=true and appends each server-sent delta as it arrives. No framework, no network access beyond this server.
'use strict';

const $ = (id) => document.getElementById(id);
const conversation = [];       // OpenAI messages sent so far (images as data URLs: the server caches their encoding)
let pending = [];              // data URLs attached to the next message
let modelId = null;
let controller = null;         // aborts the running request (the server then stops generating)

const keyInput = $('api-key');
keyInput.value = localStorage.getItem('mm1j.apiKey') || '';
keyInput.addEventListener('change', () => { localStorage.setItem('mm1j.apiKey', keyInput.value); loadModel(); });

function headers() {
  const h = { 'Content-Type': 'application/json' };
  if (keyInput.value) h.Authorization = 'Bearer ' + keyInput.value;
  return h;
}

async function loadModel() {
  try {
    const r = await fetch('v1/models', { headers: headers() });
    const body = await r.json();
    if (!r.ok) throw new Error(body.error ? body.error.message : r.statusText);
    modelId = body.data[0].id;
    $('model').textContent = 'model: ' + modelId;
  } catch (e) {
    $('model').textContent = 'model unavailable: ' + e.message;
  }
}

function addMessage(role, text, images) {
  const div = document.createElement('div');
  div.className = 'msg ' + role;
  for (const src of images || []) {
    const img = document.createElement('img');
    img.src = src;
    img.alt = 'attached image';
    div.appendChild(img);
  }
  const content = document.createElement('div');
  content.className = 'content';
  content.textContent = text;
  div.appendChild(content);
  $('log').appendChild(div);
  $('log').scrollTop = $('log').scrollHeight;
  return div;
}

function renderAttachments() {
  const box = $('attachments');
  box.replaceChildren();
  pending.forEach((src, i) => {
    const fig = document.createElement('figure');
    const img = document.createElement('img');
    img.src = src;
    img.alt = 'attachment ' + (i + 1);
    const rm = document.createElement('button');
    rm.type = 'button';
    rm.textContent = '×';
    rm.title = 'Remove';
    rm.onclick = () => { pending.splice(i, 1); renderAttachments(); };
    fig.append(img, rm);
    box.appendChild(fig);
  });
}

$('attach').addEventListener('change', (ev) => {
  for (const file of ev.target.files) {
    const reader = new FileReader();
    reader.onload = () => { pending.push(reader.result); renderAttachments(); };
    reader.readAsDataURL(file);
  }
  ev.target.value = '';
});

$('prompt').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); $('composer').requestSubmit(); }
});

$('reset').addEventListener('click', () => {
  conversation.length = 0;
  $('log').replaceChildren();
  $('status').textContent = '';
});

$('stop').addEventListener('click', () => { if (controller) controller.abort(); });

$('composer').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const text = $('prompt').value.trim();
  if (!text && pending.length === 0) return;
  if (controller) return;
  const parts = pending.map((url) => ({ type: 'image_url', image_url: { url } }));
  if (text) parts.push({ type: 'text', text });
  const userMsg = { role: 'user', content: parts };
  addMessage('user', text, pending);
  conversation.push(userMsg);
  $('prompt').value = '';
  pending = [];
  renderAttachments();
  await answer();
});

async function answer() {
  const bubble = addMessage('assistant', '');
  const content = bubble.querySelector('.content');
  bubble.dataset.state = 'streaming';
  controller = new AbortController();
  $('send').disabled = true;
  $('stop').hidden = false;
  $('status').textContent = 'generating…';
  let text = '';
  try {
    const body = {
      model: modelId,
      messages: conversation,
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: Number($('max-tokens').value) || undefined,
      temperature: Number($('temperature').value),
    };
    const r = await fetch('v1/chat/completions', {
      method: 'POST', headers: headers(), body: JSON.stringify(body), signal: controller.signal,
    });
    if (!r.ok) {
      const err = await r.json().catch(() => ({}));
      throw new Error(err.error ? err.error.message : r.status + ' ' + r.statusText);
    }
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of event.split('\n')) {
          if (!line.startsWith('data: ')) continue;
          const data = line.slice(6);
          if (data === '[DONE]') continue;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message);
          if (chunk.usage) {
            const u = chunk.usage;
            const usage = document.createElement('div');
            usage.className = 'usage';
            usage.textContent = u.prompt_tokens + ' prompt tokens (' + u.prompt_tokens_details.image_tokens
                + ' image) · ' + u.completion_tokens + ' generated';
            bubble.appendChild(usage);
          }
          for (const choice of chunk.choices || []) {
            if (choice.delta && choice.delta.content) {
              text += choice.delta.content;
              content.textContent = text;
              $('log').scrollTop = $('log').scrollHeight;
            }
            if (choice.finish_reason) bubble.dataset.finish = choice.finish_reason;
          }
        }
      }
    }
    conversation.push({ role: 'assistant', content: text });
    $('status').textContent = '';
  } catch (e) {
    if (e.name === 'AbortError') {
      conversation.push({ role: 'assistant', content: text });
      $('status').textContent = 'stopped';
    } else {
      conversation.pop();   // the failed user turn is not part of the conversation
      addMessage('error', e.message);
      $('status').textContent = '';
    }
  } finally {
    bubble.dataset.state = 'done';
    controller = null;
    $('send').disabled = false;
    $('stop').hidden = true;
  }
}

loadModel();
