// The official openai Node SDK's Responses API against the gateway: node openai.mjs <scenario> (see common.mjs).
import OpenAI from 'openai';
import { main, items, WEATHER_TOOL_NAME, WEATHER_PARAMETERS, WEATHER_PROMPT, WEATHER_RESULT } from './common.mjs';

const client = ({ baseURL, apiKey }) => new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30_000 });

const weatherTool = {
  type: 'function',
  name: WEATHER_TOOL_NAME,
  description: 'The weather in a city',
  parameters: WEATHER_PARAMETERS,
  strict: true,
};

function summary(response) {
  return {
    id: response.id,
    object: response.object,
    status: response.status,
    model: response.model,
    created_at: response.created_at,
    previous_response_id: response.previous_response_id ?? null,
    instructions: response.instructions ?? null,
    // The SDK's own convenience: the text of every output_text part, joined.
    output_text: response.output_text ?? null,
    output: items(response.output),
    usage: response.usage ?? null,
    error: response.error ?? null,
    incomplete_details: response.incomplete_details ?? null,
  };
}

/** The text of a response's message items, read from the items (a retrieved or streamed response has no output_text helper). */
const textOf = (response) =>
  (response.output ?? []).filter((i) => i.type === 'message').flatMap((i) => i.content)
    .filter((c) => c.type === 'output_text').map((c) => c.text).join('');

async function expectStatus(promise) {
  try {
    await promise;
    return { status: 200, body: null };
  } catch (error) {
    if (error instanceof OpenAI.APIError) return { status: error.status ?? null, body: error.error ?? null, name: error.constructor.name };
    throw error;
  }
}

await main({
  async 'create-text'(s) {
    return summary(await client(s).responses.create({ model: s.model, input: 'Hello there!' }));
  },

  async 'create-instructions'(s) {
    return summary(await client(s).responses.create({
      model: s.model,
      instructions: 'Answer like a pirate.',
      input: [{ role: 'user', content: 'Hello there!' }],
      max_output_tokens: 50,
    }));
  },

  // A function tool call and its result, sent back as the next turn of the same conversation by previous_response_id.
  async 'function-call'(s) {
    const openai = client(s);
    const first = await openai.responses.create({ model: s.model, input: WEATHER_PROMPT, tools: [weatherTool] });
    const call = first.output.find((i) => i.type === 'function_call');
    if (!call) return { first: summary(first), second: null };
    const second = await openai.responses.create({
      model: s.model,
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: WEATHER_RESULT }],
      tools: [weatherTool],
    });
    return { first: summary(first), second: summary(second) };
  },

  // stream: true, read event by event as the SDK parses them.
  async stream(s) {
    const stream = await client(s).responses.create({ model: s.model, input: 'Tell me a story.', stream: true });
    const events = [];
    let created = null;
    let final = null;
    for await (const event of stream) {
      events.push({
        type: event.type,
        sequence_number: event.sequence_number ?? null,
        output_index: event.output_index ?? null,
        content_index: event.content_index ?? null,
        item_id: event.item_id ?? event.item?.id ?? null,
        delta: event.delta ?? null,
        text: event.text ?? null,
      });
      if (event.type === 'response.created') created = event.response;
      if (event.type === 'response.completed' || event.type === 'response.incomplete' || event.type === 'response.failed') final = event.response;
    }
    return {
      events,
      created: created && { id: created.id, status: created.status, output: items(created.output) },
      final: final && { ...summary(final), text: textOf(final) },
    };
  },

  // The SDK's streaming helper, which rebuilds the response from the events and checks their order as it goes.
  async 'stream-helper'(s) {
    const stream = client(s).responses.stream({ model: s.model, input: 'Tell me a story.' });
    const deltas = [];
    const types = [];
    stream.on('event', (event) => types.push(event.type));
    stream.on('response.output_text.delta', (event) => deltas.push(event.delta));
    const final = await stream.finalResponse();
    return { types, deltas, final: { ...summary(final), text: textOf(final) } };
  },

  async retrieve(s) {
    const openai = client(s);
    const created = await openai.responses.create({ model: s.model, input: 'Hello there!' });
    const retrieved = await openai.responses.retrieve(created.id);
    return { created: summary(created), retrieved: { ...summary(retrieved), text: textOf(retrieved) } };
  },

  // The input items of a stored response, newest first by default, and oldest first with order: asc.
  async 'input-items'(s) {
    const openai = client(s);
    const created = await openai.responses.create({
      model: s.model,
      input: [
        { role: 'user', content: 'First question' },
        { role: 'assistant', content: 'First answer' },
        { role: 'user', content: [{ type: 'input_text', text: 'Second question' }] },
      ],
    });
    const page = await openai.responses.inputItems.list(created.id);
    const all = [];
    for await (const item of openai.responses.inputItems.list(created.id, { order: 'asc', limit: 2 })) all.push(item);
    return {
      id: created.id,
      page: { has_more: page.has_more, first_id: page.body?.first_id ?? null, last_id: page.body?.last_id ?? null, object: page.body?.object ?? null, data: items(page.data) },
      ascending: items(all),
    };
  },

  async delete(s) {
    const openai = client(s);
    const created = await openai.responses.create({ model: s.model, input: 'Hello there!' });
    const raw = await openai.responses.delete(created.id).asResponse();
    const deleted = { status: raw.status, body: await raw.json() };
    return {
      id: created.id,
      deleted,
      retrieveAfter: await expectStatus(openai.responses.retrieve(created.id)),
      deleteAgain: await expectStatus(openai.responses.delete(created.id)),
    };
  },
});
