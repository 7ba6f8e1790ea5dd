// The review page: plain JS, no build step, no network beyond this server's JSON API.
// Candidate text is hostile: it only ever goes into text nodes (textContent / createTextNode), never into HTML.
"use strict";
(() => {
  const token = new URLSearchParams(location.search).get("token") || "";
  const $ = (id) => document.getElementById(id);
  const state = { session: null, answers: [], detail: null, chosen: {}, focus: 0, agreement: null, row: 0, view: 0 };

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("data-") || key.startsWith("aria-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function pageUrl(answerId) {
    const query = new URLSearchParams({ token });
    if (answerId) query.set("answer", answerId);
    return "/?" + query.toString();
  }

  async function api(path, body) {
    const sep = path.includes("?") ? "&" : "?";
    const init = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    };
    const response = await fetch(path + sep + "token=" + encodeURIComponent(token), init);
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }

  function say(text, kind) {
    const status = $("status");
    status.textContent = text;
    status.className = kind || "";
  }

  const fmt = {
    score: (s, max) => (s === null || s === undefined ? "–" : `${+s.toFixed(2)} / ${+max.toFixed(2)}`),
    pct: (v) => (v === null || v === undefined ? "–" : `${Math.round(v * 100)}%`),
    num: (v) => (v === null || v === undefined ? "–" : v.toFixed(2)),
  };

  function figureText(f, unit) {
    return `n ${f.n} · exact ${fmt.pct(f.exact)} · adjacent ${fmt.pct(f.adjacent)} · QWK ${fmt.num(f.qwk)} · MAE ${fmt.num(f.mae)}${unit}`;
  }

  async function refreshAgreement() {
    const a = await api("/api/agreement");
    state.agreement = a;
    const total = a.grader_vs_reviewers.total;
    $("agreement-total").textContent = total.n ? figureText(total, " pts") : "no reviews yet";
    $("agreement-total").setAttribute("data-n", String(total.n));
    const between = a.between_reviewers.total;
    $("agreement-between").textContent = between.n ? ` · Reviewer vs reviewer: ${figureText(between, " pts")}` : "";
    if (state.detail) renderCriterionAgreement();
  }

  // --- the queue -------------------------------------------------------------------------------------------

  function fillSelect(select, values, label) {
    const current = select.value;
    while (select.options.length > (select.id === "filter-flag" ? 2 : 1)) select.remove(select.options.length - 1);
    for (const value of values) select.appendChild(el("option", { value }, label ? label(value) : value));
    select.value = current;
  }

  function filtered() {
    const t = $("filter-transcript").value, q = $("filter-question").value, f = $("filter-flag").value;
    const todo = $("filter-todo").checked;
    return state.answers.filter((a) =>
      (!t || a.transcript === t) && (!q || a.question_id === q) &&
      (!f || (f === "*" ? a.needs_review : a.flags.includes(f))) && (!todo || !a.my_review));
  }

  function renderQueue() {
    const body = $("queue-rows");
    clear(body);
    const rows = filtered();
    state.row = Math.min(state.row, Math.max(0, rows.length - 1));
    rows.forEach((a, index) => {
      const link = el("a", { href: pageUrl(a.answer_id) }, `${a.question_id}: ${a.question}`);
      link.addEventListener("click", (event) => { event.preventDefault(); go(a.answer_id); });
      const flags = el("td", { class: "flags" });
      for (const reason of a.review_reasons) flags.appendChild(el("span", { class: "flag review" }, reason));
      for (const flag of a.flags) {
        if (!a.review_reasons.includes(flag)) flags.appendChild(el("span", { class: "flag" }, flag));
      }
      const mine = a.my_review ? `✓ ${fmt.score(a.my_review.score, a.max_score)}` : "";
      const row = el("tr", { class: (a.needs_review ? "needs-review" : "") + (index === state.row ? " selected" : ""),
                             "data-answer": a.answer_id },
        el("td", {}, a.needs_review ? "needs review" : ""),
        el("td", {}, a.candidate || "–"),
        el("td", { class: "transcript" }, a.transcript.split("/").pop()),
        el("td", {}, link),
        el("td", { class: "score" }, state.session.blind && !a.my_review ? "hidden" : fmt.score(a.score, a.max_score)),
        flags,
        el("td", { class: "reviews" }, `${a.reviews}${mine ? " · " + mine : ""}`));
      row.addEventListener("click", (event) => { if (event.target.tagName !== "A") go(a.answer_id); });
      body.appendChild(row);
    });
    if (!rows.length) body.appendChild(el("tr", {}, el("td", { colSpan: 7 }, "No answer matches these filters.")));
  }

  async function showQueue() {
    const view = ++state.view;  // a later navigation wins over a slower, earlier one
    state.detail = null;
    const answers = await api("/api/answers");
    if (view !== state.view) return;
    state.answers = answers;
    const unique = (key) => [...new Set(state.answers.map(key))].sort();
    fillSelect($("filter-transcript"), unique((a) => a.transcript), (t) => t.split("/").pop());
    const titles = Object.fromEntries(state.answers.map((a) => [a.question_id, a.question]));
    fillSelect($("filter-question"), unique((a) => a.question_id), (q) => `${q}: ${titles[q]}`.slice(0, 90));
    fillSelect($("filter-flag"), [...new Set(state.answers.flatMap((a) => a.flags))].sort());
    renderQueue();
    $("answer-view").removeAttribute("data-answer");
    $("answer-view").hidden = true;
    $("queue").hidden = false;
    document.title = "Panel review: queue";
  }

  // --- one answer ------------------------------------------------------------------------------------------

  function renderAnswerText(detail) {
    const box = $("answer-text");
    clear(box);
    for (const segment of detail.highlights) {
      if (!segment.criteria.length) {
        box.appendChild(document.createTextNode(segment.text));
        continue;
      }
      box.appendChild(el("mark", { "data-criteria": segment.criteria.join(" "),
                                   title: "evidence for " + segment.criteria.join(", ") }, segment.text));
    }
  }

  function renderCriteria(detail) {
    const box = $("criteria");
    clear(box);
    detail.criteria.forEach((c, index) => {
      const levels = el("ol", { class: "levels", start: 0 });
      c.levels.forEach((text, level) => {
        const button = el("button", { type: "button", class: "level", "data-level": String(level),
                                      "aria-pressed": "false" },
          el("span", { class: "n" }, String(level)), el("span", { class: "descriptor" }, text));
        if (c.grader_level === level) button.appendChild(el("span", { class: "grader-mark" }, "grader"));
        button.addEventListener("click", () => { setFocus(index); choose(c.id, level, false); button.blur(); });
        levels.appendChild(el("li", {}, button));
      });
      const evidence = el("ul", { class: "evidence" });
      for (const quote of c.evidence) evidence.appendChild(el("li", {}, el("q", {}, quote)));
      const card = el("fieldset", { class: "criterion", "data-criterion": c.id },
        el("legend", {}, el("strong", {}, c.id), ` · ${+c.points.toFixed(2)} points`),
        el("p", { class: "description" }, c.description),
        levels,
        c.rationale ? el("p", { class: "rationale" }, "Grader: ", c.rationale) : null,
        c.evidence.length ? el("div", {}, el("span", { class: "label" }, "Evidence"), evidence) : null,
        el("p", { class: "criterion-agreement" }));
      card.addEventListener("click", () => setFocus(index));
      box.appendChild(card);
    });
  }

  function renderCriterionAgreement() {
    const a = state.agreement, d = state.detail;
    if (!a || !d) return;
    for (const card of document.querySelectorAll("fieldset.criterion")) {
      const f = a.grader_vs_reviewers.criteria[`${d.question_id}.${card.getAttribute("data-criterion")}`];
      card.querySelector(".criterion-agreement").textContent =
        f && f.n ? `Grader vs reviewers on this criterion: ${figureText(f, " levels")}` : "";
    }
  }

  function choose(criterionId, level, advance) {
    state.chosen[criterionId] = level;
    renderChoices();
    if (advance && state.focus < state.detail.criteria.length - 1) setFocus(state.focus + 1);
  }

  function renderChoices() {
    const d = state.detail;
    let preview = 0, complete = true;
    for (const c of d.criteria) {
      const chosen = state.chosen[c.id];
      const card = document.querySelector(`fieldset.criterion[data-criterion="${CSS.escape(c.id)}"]`);
      for (const button of card.querySelectorAll("button.level")) {
        button.setAttribute("aria-pressed", String(Number(button.getAttribute("data-level")) === chosen));
      }
      if (chosen === undefined) complete = false;
      else preview += c.level_points[chosen];
    }
    $("preview").textContent = complete ? `Your score: ${fmt.score(Math.round(preview * 100) / 100, d.max_score)}`
                                        : "Choose a level for every criterion.";
    $("save").disabled = !complete;
  }

  function setFocus(index) {
    state.focus = index;
    const cards = document.querySelectorAll("fieldset.criterion");
    cards.forEach((card, i) => card.classList.toggle("current", i === index));
    const id = state.detail.criteria[index].id;
    for (const mark of document.querySelectorAll("#answer-text mark")) {
      mark.classList.toggle("active", mark.getAttribute("data-criteria").split(" ").includes(id));
    }
    if (cards[index]) cards[index].scrollIntoView({ block: "nearest" });
  }

  async function showAnswer(answerId) {
    const view = ++state.view;  // a later navigation wins over a slower, earlier one
    let d;
    try {
      d = await api("/api/answers/" + encodeURIComponent(answerId));
    } catch (error) {
      say(`That answer is not in this batch (${error.message}).`, "error");
      return showQueue();
    }
    if (view !== state.view) return;
    state.detail = d;
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
    $("queue").hidden = true;
    $("answer-view").hidden = false;
    document.title = `Panel review: ${d.question_id}`;
    $("position").textContent = `Answer ${d.position + 1} of ${state.session.answers}`;
    $("question").textContent = `${d.question_id}: ${d.question}`;
    const score = d.blind ? "grader's score hidden until you save" : `grader ${fmt.score(d.score, d.max_score)}`;
    $("meta").textContent = `${d.candidate || "Unknown candidate"} · ${d.transcript} · ${d.status} · ${score}`;
    $("asked").textContent = d.asked ? `Asked: “${d.asked}”` : "";
    const flags = $("flags");
    clear(flags);
    for (const reason of d.review_reasons) {
      const flag = reason.split(":")[0];
      flags.appendChild(el("li", {}, el("span", { class: "flag review" }, reason), " ",
                           d.flag_meanings[flag] || (d.error && flag === "ungraded" ? d.error : "")));
    }
    for (const flag of d.flags.filter((f) => !d.review_reasons.includes(f))) {
      flags.appendChild(el("li", {}, el("span", { class: "flag" }, flag), " ", d.flag_meanings[flag] || ""));
    }
    const notices = [];
    if (d.blind) notices.push("Blind review: the grader's levels and score show after you save.");
    if (d.rubric_changed) notices.push("The rubric changed since this answer was graded; its current form is shown.");
    if (d.my_review) notices.push(`You reviewed this answer (${fmt.score(d.my_review.score, d.max_score)}); saving again replaces your review.`);
    if (d.other_reviewers.length) notices.push(`Also reviewed by ${d.other_reviewers.join(", ")}.`);
    $("notice").textContent = notices.join(" ");
    renderAnswerText(d);
    renderCriteria(d);
    state.chosen = {};
    const start = d.my_review ? d.my_review.levels : (d.blind ? {} : d.levels || {});
    for (const c of d.criteria) if (start[c.id] !== undefined && start[c.id] !== null) state.chosen[c.id] = start[c.id];
    $("note").value = d.my_review && d.my_review.note ? d.my_review.note : "";
    $("grader-score").textContent = "";
    renderChoices();
    setFocus(0);
    renderCriterionAgreement();
    const index = state.answers.findIndex((a) => a.answer_id === d.answer_id);
    $("prev").hidden = index <= 0;
    $("next").hidden = index < 0 || index >= state.answers.length - 1;
    $("answer-view").setAttribute("data-answer", d.answer_id);
  }

  async function save() {
    const d = state.detail;
    if (!d || $("save").disabled) return;
    $("save").disabled = true;
    try {
      const result = await api("/api/reviews", { answer_id: d.answer_id, levels: state.chosen, note: $("note").value });
      const grader = result.grader_score === null ? "ungraded" : fmt.score(result.grader_score, d.max_score);
      say(`Saved ${d.question_id} (${d.candidate || "unknown"}): ${fmt.score(result.review.score, d.max_score)}; grader ${grader}.`, "saved");
      state.answers = await api("/api/answers");
      await refreshAgreement();
      if (result.next_answer_id) go(result.next_answer_id, true);
      else { say($("status").textContent + " Every answer has your review.", "saved"); go(null, true); }
    } catch (error) {
      say(`Not saved: ${error.message}`, "error");
      $("save").disabled = false;
    }
  }

  function neighbour(step) {
    const index = state.answers.findIndex((a) => state.detail && a.answer_id === state.detail.answer_id);
    const other = state.answers[index + step];
    if (other) go(other.answer_id);
  }

  // --- navigation and keys ---------------------------------------------------------------------------------

  function go(answerId, keepStatus) {
    if (!keepStatus) say("");
    history.pushState(null, "", pageUrl(answerId));
    route();
  }

  async function route() {
    const answerId = new URLSearchParams(location.search).get("answer");
    if (!state.answers.length) state.answers = await api("/api/answers");
    if (answerId) await showAnswer(answerId);
    else await showQueue();
    await refreshAgreement();
  }

  function onAnswerKey(event) {
    const d = state.detail;
    const typing = ["TEXTAREA", "INPUT", "SELECT"].includes(event.target.tagName);
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); save(); return; }
    if (event.key === "Escape") {
      if (typing) event.target.blur(); else go(null);
      return;
    }
    if (typing || event.altKey || event.ctrlKey || event.metaKey) return;
    const criterion = d.criteria[state.focus];
    if (/^[0-9]$/.test(event.key)) {
      const level = Number(event.key);
      if (level < criterion.levels.length) { event.preventDefault(); choose(criterion.id, level, true); }
    } else if (event.key === "ArrowDown" || event.key === "j") {
      event.preventDefault(); setFocus(Math.min(d.criteria.length - 1, state.focus + 1));
    } else if (event.key === "ArrowUp" || event.key === "k") {
      event.preventDefault(); setFocus(Math.max(0, state.focus - 1));
    } else if (event.key === "a" && !d.blind && d.levels) {
      for (const c of d.criteria) if (d.levels[c.id] !== undefined) state.chosen[c.id] = d.levels[c.id];
      renderChoices();
    } else if (event.key === "n") {
      event.preventDefault(); $("note").focus();
    } else if (event.key === "Enter" && event.target.tagName !== "BUTTON" && event.target.tagName !== "A") {
      event.preventDefault(); save();
    }
  }

  function onQueueKey(event) {
    if (["TEXTAREA", "INPUT", "SELECT"].includes(event.target.tagName)) return;
    const rows = filtered();
    if (event.key === "j" || event.key === "ArrowDown") state.row = Math.min(rows.length - 1, state.row + 1);
    else if (event.key === "k" || event.key === "ArrowUp") state.row = Math.max(0, state.row - 1);
    else if (event.key === "Enter" && rows[state.row] && event.target.tagName !== "A") {
      go(rows[state.row].answer_id); return;
    } else return;
    event.preventDefault();
    renderQueue();
  }

  document.addEventListener("keydown", (event) => {
    if (!$("answer-view").hidden && state.detail) onAnswerKey(event);
    else if (!$("queue").hidden) onQueueKey(event);
  });

  document.addEventListener("DOMContentLoaded", async () => {
    $("review-form").addEventListener("submit", (event) => { event.preventDefault(); save(); });
    for (const id of ["filter-transcript", "filter-question", "filter-flag", "filter-todo"]) {
      $(id).addEventListener("change", () => { state.row = 0; renderQueue(); });
    }
    for (const [id, action] of [["home", () => go(null)], ["back", () => go(null)],
                                ["prev", () => neighbour(-1)], ["next", () => neighbour(1)]]) {
      $(id).href = pageUrl(null);
      $(id).addEventListener("click", (event) => { event.preventDefault(); action(); });
    }
    window.addEventListener("popstate", route);
    try {
      state.session = await api("/api/session");
      $("session").textContent = `${state.session.batch} · reviewer ${state.session.reviewer}` +
        (state.session.blind ? " · blind" : "") + ` · ${state.session.answers} answers`;
      await route();
    } catch (error) {
      say(`Cannot load the batch: ${error.message}`, "error");
    }
  });
})();
