// The AI SDK's default OpenAI provider, openai(model), which speaks the Responses API, against the gateway:
// node ai-sdk.mjs <scenario> (see common.mjs).
import { generateText, streamText, tool, stepCountIs, jsonSchema } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { main, WEATHER_TOOL_NAME, WEATHER_PARAMETERS, WEATHER_PROMPT, WEATHER_RESULT } from './common.mjs';

const model = ({ baseURL, apiKey, model }) => createOpenAI({ baseURL, apiKey })(model);

const usage = (u) => u && { inputTokens: u.inputTokens ?? null, outputTokens: u.outputTokens ?? null, totalTokens: u.totalTokens ?? null };

await main({
  async 'generate-text'(s) {
    const result = await generateText({ model: model(s), system: 'Be brief.', prompt: 'Hello there!', maxRetries: 0 });
    return {
      text: result.text,
      finishReason: result.finishReason,
      usage: usage(result.usage),
      responseId: result.response?.id ?? null,
      responseModel: result.response?.modelId ?? null,
      warnings: result.warnings ?? [],
    };
  },

  async 'stream-text'(s) {
    // streamText reports errors through onError and the stream's end, not by throwing from the call.
    let failure = null;
    const result = streamText({ model: model(s), prompt: 'Tell me a story.', maxRetries: 0, onError: ({ error }) => { failure = error; } });
    const chunks = [];
    for await (const chunk of result.textStream) chunks.push(chunk);
    if (failure) throw failure;
    return {
      chunks,
      text: await result.text,
      finishReason: await result.finishReason,
      usage: usage(await result.usage),
      responseId: (await result.response)?.id ?? null,
    };
  },

  // A conversation carried on the way AI SDK apps do: the first answer's response.messages go back in the second call.
  // With store on (the SDK's default) the SDK sends the earlier answer as {type: "item_reference", id: <its msg_ id>},
  // not as text, so the server must find the item it stored.
  async 'two-turns'(s) {
    const first = await generateText({ model: model(s), prompt: 'First question', maxRetries: 0 });
    const second = await generateText({
      model: model(s),
      maxRetries: 0,
      messages: [{ role: 'user', content: 'First question' }, ...first.response.messages, { role: 'user', content: 'Second question' }],
    });
    return {
      first: { text: first.text, responseId: first.response?.id ?? null, messages: first.response.messages },
      second: { text: second.text, finishReason: second.finishReason, responseId: second.response?.id ?? null },
    };
  },

  // A tool the SDK executes itself: the call comes back, the SDK runs it and sends the result in the next step.
  async 'tool-loop'(s) {
    const result = await generateText({
      model: model(s),
      prompt: WEATHER_PROMPT,
      maxRetries: 0,
      stopWhen: stepCountIs(3),
      tools: {
        [WEATHER_TOOL_NAME]: tool({
          description: 'The weather in a city',
          inputSchema: jsonSchema(WEATHER_PARAMETERS),
          execute: async () => WEATHER_RESULT,
        }),
      },
    });
    return {
      text: result.text,
      finishReason: result.finishReason,
      steps: result.steps.map((step) => ({
        finishReason: step.finishReason,
        text: step.text,
        toolCalls: step.toolCalls.map((c) => ({ toolName: c.toolName, toolCallId: c.toolCallId, input: c.input })),
        toolResults: step.toolResults.map((r) => ({ toolName: r.toolName, output: r.output })),
      })),
    };
  },
});
