// The playground: try a key against a model through the gateway's own /v1/chat/completions, streamed, with each
// delta written into the page as it arrives (what a client of the key would see), then the usage and timings.
"use strict";

(() => {
  const { pages, api, el, fmt, badge } = AGW;

  /** Reads an OpenAI server-sent event stream, calling onEvent with each parsed "data:" object until [DONE]. */
  async function readEvents(response, onEvent, signal) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, end).replace(/\r$/, "");
        buffer = buffer.slice(end + 1);
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") return;
        try { onEvent(JSON.parse(data)); } catch (e) { if (e instanceof SyntaxError) continue; throw e; }
      }
      if (signal.aborted) return;
    }
  }

  pages.playground = {
    title: "Playground",
    async render(root) {
      const deployments = await api("/ui/api/deployments");
      const models = [...new Set(deployments.data.map((d) => d.model))];
      const history = [];
      const chat = el("div", { class: "chat", id: "chat" }, el("p", { class: "muted" }, "Send a message to see the answer stream in."));
      let controller = null;

      const key = el("input", { id: "pg-key", type: "password", placeholder: "sk-... (empty: the master key)", autocomplete: "off" });
      const model = el("select", { id: "pg-model" }, models.map((m) => el("option", { value: m }, m)));
      const system = el("textarea", { id: "pg-system", rows: 3, placeholder: "You are a helpful assistant." });
      const temperature = el("input", { id: "pg-temperature", type: "number", min: "0", max: "2", step: "0.1", placeholder: "default" });
      const maxTokens = el("input", { id: "pg-max-tokens", type: "number", min: "1", step: "1", placeholder: "default" });
      const message = el("textarea", { id: "pg-message", rows: 4, placeholder: "Ask something…" });
      const send = el("button", { type: "submit", id: "pg-send" }, "Send");
      const stop = el("button", { type: "button", id: "pg-stop", class: "secondary", disabled: true }, "Stop");
      const clear = el("button", { type: "button", id: "pg-clear", class: "secondary" }, "Clear");
      const error = el("p", { class: "form-error error", id: "pg-error", role: "alert", hidden: true });
      const field = (label, input) => el("label", {}, label, input);
      const settings = el("form", { class: "panel form-stack", id: "playground-form" },
        el("h3", {}, "Request"),
        field("Key", key), el("p", { class: "muted small" }, "A virtual key tests what that key may do: its models, budget and limits apply. Only the key's hash is stored; paste its secret here."),
        field("Model", model), field("System prompt", system),
        el("div", { class: "two" }, field("Temperature", temperature), field("Max tokens", maxTokens)),
        field("Message", message), el("div", { class: "form-buttons" }, send, stop, clear), error);

      const turn = (who, text, cls) => el("div", { class: "turn " + cls }, el("div", { class: "who" }, who), el("div", { class: "text" }, text));
      const showError = (text) => { error.textContent = text || ""; error.hidden = !text; };

      settings.addEventListener("submit", async (event) => {
        event.preventDefault();
        showError("");
        const content = message.value.trim();
        if (!content) { showError("Write a message first."); return; }
        if (!model.value) { showError("The gateway has no models to try."); return; }
        if (!history.length) chat.replaceChildren();
        history.push({ role: "user", content });
        chat.append(turn("you", content, "user"));
        const text = el("div", { class: "text", id: "pg-answer", "data-chunks": "0" });
        const stats = el("div", { class: "stream-stats", id: "pg-stats" }, "waiting for the first token…");
        const answer = el("div", { class: "turn assistant", "data-streaming": "true" }, el("div", { class: "who" }, model.value), text, stats);
        // The previous answer's ids move to this one: tests and people read the latest.
        chat.querySelectorAll("#pg-answer, #pg-stats").forEach((n) => n.removeAttribute("id"));
        chat.append(answer);
        message.value = "";
        const body = { model: model.value, stream: true, stream_options: { include_usage: true },
          messages: (system.value.trim() ? [{ role: "system", content: system.value.trim() }] : []).concat(history) };
        if (temperature.value !== "") body.temperature = Number(temperature.value);
        if (maxTokens.value !== "") body.max_tokens = Number(maxTokens.value);
        controller = new AbortController();
        send.disabled = true; stop.disabled = false;
        const started = performance.now();
        let first = null, chunks = 0, usage = null, finish = null, reply = "";
        try {
          const response = await fetch("/v1/chat/completions", {
            method: "POST", signal: controller.signal,
            headers: { "Content-Type": "application/json", Authorization: "Bearer " + (key.value.trim() || sessionStorage.getItem("agw.adminKey")) },
            body: JSON.stringify(body),
          });
          if (!response.ok) {
            const err = await response.json().catch(() => null);
            throw new Error(`${response.status}: ${err && err.error ? err.error.message : response.statusText}`);
          }
          const requestId = response.headers.get("x-request-id");
          await readEvents(response, (e) => {
            if (e.error) throw new Error(e.error.message || "the stream ended with an error");
            if (e.usage) usage = e.usage;
            const choice = e.choices && e.choices[0];
            if (!choice) return;
            if (choice.finish_reason) finish = choice.finish_reason;
            const delta = choice.delta && choice.delta.content;
            if (!delta) return;
            if (first === null) first = performance.now() - started;
            chunks++;
            reply += delta;
            text.append(delta);
            text.dataset.chunks = String(chunks);
            stats.textContent = `streaming… ${chunks} chunks, first token after ${fmt.ms(first)}`;
          }, controller.signal);
          history.push({ role: "assistant", content: reply });
          const total = performance.now() - started;
          stats.replaceChildren(
            `${chunks} chunks · first token ${first === null ? "–" : fmt.ms(first)} · total ${fmt.ms(total)}`,
            usage ? ` · ${fmt.int(usage.prompt_tokens)} in / ${fmt.int(usage.completion_tokens)} out tokens` : "",
            finish ? ` · finish: ${finish}` : "", requestId ? ` · request ${requestId}` : "");
        } catch (e) {
          history.pop();
          if (e.name === "AbortError") stats.replaceChildren(badge("stopped", "warn"), ` after ${chunks} chunks`);
          else { answer.classList.add("error"); stats.textContent = ""; text.textContent = e.message; showError(e.message); }
        } finally {
          answer.dataset.streaming = "false";
          controller = null;
          send.disabled = false; stop.disabled = true;
        }
      });
      stop.addEventListener("click", () => controller && controller.abort());
      clear.addEventListener("click", () => { history.length = 0; chat.replaceChildren(el("p", { class: "muted" }, "Send a message to see the answer stream in.")); showError(""); });
      root.append(el("div", { class: "playground" }, settings, el("section", { class: "panel" }, el("h3", {}, "Conversation"), chat)));
    },
  };
})();
