// LangChain's ChatOpenAI with useResponsesApi against the gateway: node langchain.mjs <scenario> (see common.mjs).
import { ChatOpenAI } from '@langchain/openai';
import { HumanMessage, ToolMessage } from '@langchain/core/messages';
import { main, WEATHER_TOOL_NAME, WEATHER_PARAMETERS, WEATHER_PROMPT, WEATHER_RESULT } from './common.mjs';

const chat = ({ baseURL, apiKey, model }) =>
  new ChatOpenAI({ model, apiKey, useResponsesApi: true, maxRetries: 0, timeout: 30_000, configuration: { baseURL } });

/** A message's text: LangChain's Responses path gives content as a string or as a list of text blocks. */
const textOf = (message) =>
  typeof message.content === 'string' ? message.content
    : message.content.filter((b) => b.type === 'text' || b.type === 'output_text').map((b) => b.text).join('');

const describe = (message) => ({
  text: textOf(message),
  id: message.id ?? null,
  responseId: message.response_metadata?.id ?? null,
  status: message.response_metadata?.status ?? null,
  usage: message.usage_metadata ?? null,
  toolCalls: (message.tool_calls ?? []).map((c) => ({ name: c.name, id: c.id, args: c.args })),
});

await main({
  async invoke(s) {
    return describe(await chat(s).invoke('Hello there!'));
  },

  async stream(s) {
    const chunks = [];
    let whole = null;
    for await (const chunk of await chat(s).stream('Tell me a story.')) {
      chunks.push(textOf(chunk));
      whole = whole === null ? chunk : whole.concat(chunk);
    }
    return { chunks, ...(whole ? describe(whole) : { text: null }) };
  },

  // bindTools, the model's call, and the tool's result sent back with the whole conversation.
  async tools(s) {
    const model = chat(s).bindTools([{
      type: 'function',
      function: { name: WEATHER_TOOL_NAME, description: 'The weather in a city', parameters: WEATHER_PARAMETERS },
    }]);
    const messages = [new HumanMessage(WEATHER_PROMPT)];
    const first = await model.invoke(messages);
    const call = first.tool_calls?.[0];
    if (!call) return { first: describe(first), second: null };
    messages.push(first, new ToolMessage({ content: WEATHER_RESULT, tool_call_id: call.id }));
    const second = await model.invoke(messages);
    return { first: describe(first), second: describe(second) };
  },
});
