// The official OpenAI client (npm `openai`) against `kvspill serve`: a tool call with
// tool_choice "required", whole and streamed, parsed into tool_calls whose arguments are
// JSON; the tool result sent back in a second turn, which reuses the first turn's KV
// (usage.prompt_tokens_details.cached_tokens > 0).
//
//   node tool_call.mjs BASE_URL
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import OpenAI from "openai";

const version = JSON.parse(readFileSync(new URL("./node_modules/openai/package.json",
                                                import.meta.url))).version;

const client = new OpenAI({ baseURL: process.argv[2], apiKey: "unused", maxRetries: 0 });
const { data: models } = await client.models.list();
const model = models[0].id;

const tools = [{
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather of a city",
    parameters: {
      type: "object",
      properties: { city: { enum: ["Paris", "Rome"] }, days: { type: "integer" } },
      required: ["city", "days"],
    },
  },
}];
const messages = [
  { role: "system", content: "You are a helpful assistant with tools. ".repeat(4) },
  { role: "user", content: "What is the weather in Paris for three days?" },
];
const request = { model, messages, tools, tool_choice: "required", temperature: 0,
                  max_tokens: 600, parallel_tool_calls: false };

function checkCall(call, where) {
  assert.equal(call.type, "function", where);
  assert.ok(call.id, where);
  assert.equal(call.function.name, "get_weather", where);
  const args = JSON.parse(call.function.arguments);
  assert.ok(["Paris", "Rome"].includes(args.city), where);
  assert.ok(Number.isInteger(args.days), where);
}

const whole = await client.chat.completions.create(request);
const choice = whole.choices[0];
assert.equal(choice.finish_reason, "tool_calls");
assert.equal(choice.message.tool_calls.length, 1);
checkCall(choice.message.tool_calls[0], "whole");

// Streamed: the client's own accumulation of delta.tool_calls (the ChatCompletionStream helper).
const stream = client.chat.completions.stream(request);
const streamed = await stream.finalChatCompletion();
const schoice = streamed.choices[0];
assert.equal(schoice.finish_reason, "tool_calls");
assert.equal(schoice.message.tool_calls.length, 1);
checkCall(schoice.message.tool_calls[0], "stream");
assert.deepEqual(JSON.parse(schoice.message.tool_calls[0].function.arguments),
                 JSON.parse(choice.message.tool_calls[0].function.arguments));

// The result goes back; the second turn's prompt starts with the first's.
const call = choice.message.tool_calls[0];
const second = await client.chat.completions.create({
  model, tools, temperature: 0, max_tokens: 8,
  messages: [...messages, choice.message,
             { role: "tool", tool_call_id: call.id, content: JSON.stringify({ temp_c: 21 }) }],
});
const cached = second.usage.prompt_tokens_details.cached_tokens;
assert.ok(cached > 0, JSON.stringify(second.usage));
assert.ok(second.usage.prompt_tokens > whole.usage.prompt_tokens);
console.log(`openai ${version}: required tool call whole and streamed; ` +
            `second turn ${cached} of ${second.usage.prompt_tokens} prompt tokens cached`);
