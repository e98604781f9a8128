/* Shared helpers of the teacher pages: attendance state labels and badges, rates, dates. */
"use strict";

const Teacher = (() => {
  const { el } = Rollcall;
  const STATE_LABELS = {
    present_camera: "Present (camera)",
    present_manual: "Present (manual)",
    late: "Late",
    excused: "Excused",
    absent: "Absent",
    visitor: "Visitor",
  };
  /** The states a teacher may set by hand. */
  const MARK_STATES = ["present_manual", "late", "excused", "absent"];
  const DAYS = { mon: "Monday", tue: "Tuesday", wed: "Wednesday", thu: "Thursday", fri: "Friday", sat: "Saturday", sun: "Sunday" };

  const stateLabel = (state) => STATE_LABELS[state] || state || "–";
  const stateBadge = (state) => el("span", { class: `badge state-${state}`, dataset: { state } }, stateLabel(state));
  const fmtRate = (rate) => (rate === null || rate === undefined ? "–" : `${Math.round(rate * 1000) / 10}%`);

  /** YYYY-MM-DD of a Date in the browser's zone. */
  function isoDate(date) {
    const pad = (n) => String(n).padStart(2, "0");
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  }

  return { STATE_LABELS, MARK_STATES, DAYS, stateLabel, stateBadge, fmtRate, isoDate };
})();
