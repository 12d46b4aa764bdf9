/* Rapport dashboard, live: the page follows GET /v1/notices (server-sent events) instead of
   polling. A notice refreshes the panels it concerns (each panel names the kinds it shows in
   `data-live`): the page's own URL is fetched again, debounced, and only those panels are
   swapped in, without a reload. A small feed lists the last notices in words. EventSource
   reconnects by itself (sending Last-Event-ID); a stream refused or gone is retried with
   backoff, and the page says so quietly in the header. No inline code: a CSP may forbid it. */
(function () {
  "use strict";

  var body = document.body;
  var main = document.getElementById("main");
  var template = document.getElementById("live-feed-template");
  var status = document.getElementById("live-status");
  if (!main || !body.hasAttribute("data-live") || typeof window.EventSource !== "function") {
    return;  // a page with nothing live, or a browser without EventSource: stay as rendered
  }

  var KINDS = ["stage.changed", "health.band.changed", "touch.due", "proposal.decided"];
  var FEED_ITEMS = 6;        // notices the feed keeps
  var DEBOUNCE_MS = 400;     // notices arriving together cause one fetch
  var MIN_GAP_MS = 2000;     // and fetches are at least this far apart in a busy stream
  var RETRY_MS = [2000, 5000, 10000, 30000, 60000];  // after the stream was refused or lost
  var MAX_RETRIES = 40;      // then give up until the page is loaded again

  var owner = body.getAttribute("data-live-owner") || "";
  var stale = {};            // panel id -> true: refresh at the next fetch
  var timer = null;
  var fetching = false;
  var lastFetch = 0;
  var source = null;
  var retries = 0;
  var hadError = false;
  var lastId = "";           // the id of the last notice received
  var feed = null;
  var list = null;

  function say(state, text) {
    if (!status) { return; }
    status.setAttribute("data-state", state);
    status.textContent = text;
  }

  // -- the feed ------------------------------------------------------------------------------

  function placeFeed() {
    if (!template || !template.content) { return; }
    feed = template.content.firstElementChild.cloneNode(true);
    list = feed.querySelector("ol");
    var head = main.querySelector(".page-head");
    if (head && head.parentNode === main) {
      main.insertBefore(feed, head.nextSibling);
    } else {
      main.insertBefore(feed, main.firstChild);
    }
  }

  function nameOf(rel) {
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(rel)) { return ""; }
    var links = main.querySelectorAll('a[href="/relationships/' + rel + '"]');
    for (var i = 0; i < links.length; i++) {
      if (feed && feed.contains(links[i])) { continue; }
      var text = links[i].textContent.trim();
      if (text && text !== rel) { return text; }
    }
    return "";
  }

  function first(reasons) {
    return reasons && reasons.length ? ": " + reasons[0] : "";
  }

  // What a notice says, in words (the relationship itself is the link before it).
  function words(kind, data) {
    if (kind === "stage.changed") {
      if (data.accepted) { return "moved from " + data.from + " to " + data.to; }
      return "a move from " + data.from + " to " + data.to + " was rejected" +
        (data.why ? ": " + data.why : "");
    }
    if (kind === "health.band.changed") {
      return "health went from " + data.from + " to " + data.to + " (score " + data.score + ")" +
        first(data.reasons);
    }
    if (kind === "touch.due") {
      return "a touch fell due" + first(data.reasons);
    }
    if (kind === "proposal.decided") {
      return "proposal " + data.proposal_id + " was " + data.decision;
    }
    return kind;
  }

  function clock(iso) {
    var when = iso ? new Date(iso) : new Date();
    if (isNaN(when.getTime())) { when = new Date(); }
    return when.toISOString().slice(11, 16);
  }

  function addToFeed(kind, notice) {
    if (!list) { return; }
    var data = notice.data || {};
    var rel = String(notice.subject || data.relationship_id || "");
    var item = document.createElement("li");
    item.className = "live-item live-" + kind.replace(/\./g, "-");
    item.setAttribute("data-kind", kind);
    item.setAttribute("data-relationship", rel);
    var time = document.createElement("time");
    time.className = "when";
    time.textContent = clock(notice.time);
    if (notice.time) { time.setAttribute("datetime", notice.time); }
    var link = document.createElement("a");
    link.href = "/relationships/" + encodeURIComponent(rel);
    var name = nameOf(rel);
    link.textContent = name ? name + " (" + rel + ")" : rel;
    var what = document.createElement("span");
    what.className = "what";
    what.textContent = " " + words(kind, data);
    item.appendChild(time);
    item.appendChild(document.createTextNode(" "));
    item.appendChild(link);
    item.appendChild(what);
    var empty = list.querySelector(".live-empty");
    if (empty) { empty.remove(); }
    list.insertBefore(item, list.firstChild);
    while (list.children.length > FEED_ITEMS) { list.removeChild(list.lastChild); }
  }

  // -- the panels ----------------------------------------------------------------------------

  function panels(root) {
    var found = {};
    var all = root.querySelectorAll("[data-live][id]");
    for (var i = 0; i < all.length; i++) { found[all[i].id] = all[i]; }
    return found;
  }

  function markStale(kind) {
    var mine = panels(main);
    for (var id in mine) {
      var wants = mine[id].getAttribute("data-live").split(/\s+/);
      if (kind === "*" || wants.indexOf(kind) >= 0 || wants.indexOf("*") >= 0) { stale[id] = true; }
    }
    schedule(DEBOUNCE_MS);
  }

  function schedule(delay) {
    if (timer !== null || fetching) { return; }
    var wait = Math.max(delay, lastFetch + MIN_GAP_MS - Date.now());
    timer = window.setTimeout(refresh, wait);
  }

  function sameIds(a, b) {
    var ka = Object.keys(a).sort().join(" ");
    var kb = Object.keys(b).sort().join(" ");
    return ka === kb;
  }

  function refresh() {
    timer = null;
    var wanted = stale;
    stale = {};
    if (!Object.keys(wanted).length) { return; }
    fetching = true;
    lastFetch = Date.now();
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok || response.redirected) {
          throw new Error("the page answered " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var freshMain = fresh.getElementById("main");
        if (!freshMain) { throw new Error("no page in the answer"); }
        var now = panels(main);
        var then = panels(freshMain);
        if (!sameIds(now, then)) {
          swapMain(freshMain);  // the page changed shape (e.g. its first relationship)
        } else {
          for (var id in wanted) {
            if (now[id] && then[id]) { now[id].replaceWith(document.importNode(then[id], true)); }
          }
        }
        var foot = document.querySelector("footer.bottom");
        var freshFoot = fresh.querySelector("footer.bottom");
        if (foot && freshFoot) { foot.innerHTML = freshFoot.innerHTML; }
        body.setAttribute("data-live-refreshed", String(Date.now()));
      })
      .catch(function () {
        // quietly: the page keeps what it shows; the next notice tries again
      })
      .then(function () {
        fetching = false;
        if (Object.keys(stale).length) { schedule(DEBOUNCE_MS); }
      });
  }

  function swapMain(freshMain) {
    var keep = feed;
    while (main.firstChild) { main.removeChild(main.firstChild); }
    var nodes = Array.prototype.slice.call(freshMain.childNodes);
    for (var i = 0; i < nodes.length; i++) { main.appendChild(document.importNode(nodes[i], true)); }
    if (keep) {
      var head = main.querySelector(".page-head");
      main.insertBefore(keep, head && head.parentNode === main ? head.nextSibling : main.firstChild);
    }
  }

  // -- the stream ----------------------------------------------------------------------------

  function onNotice(message) {
    var notice;
    try { notice = JSON.parse(message.data); } catch (e) { return; }
    if (message.lastEventId) { lastId = message.lastEventId; }
    window.rapportLastNotice = lastId;  // where a reconnect resumes (the tests read it)
    addToFeed(message.type, notice);
    markStale(message.type);
  }

  function connect() {
    var query = [];
    if (owner) { query.push("owner=" + encodeURIComponent(owner)); }
    // a new EventSource sends no Last-Event-ID by itself: say where to resume
    if (lastId) { query.push("last_event_id=" + encodeURIComponent(lastId)); }
    var url = "/v1/notices" + (query.length ? "?" + query.join("&") : "");
    source = new EventSource(url, { withCredentials: true });
    for (var i = 0; i < KINDS.length; i++) { source.addEventListener(KINDS[i], onNotice); }
    source.addEventListener("open", function () {
      say("live", "Live");
      retries = 0;
      if (hadError) {
        hadError = false;
        markStale("*");  // what changed while the stream was away is on no feed: look again
      }
    });
    source.addEventListener("error", function () {
      hadError = true;
      if (source.readyState === EventSource.CONNECTING) {
        say("reconnecting", "Reconnecting…");
        return;  // the browser tries again by itself, with Last-Event-ID
      }
      // refused (401, 403, 503) or not a stream: the browser gave up; try later, quietly
      source.close();
      if (retries >= MAX_RETRIES) {
        say("off", "Live updates off");
        return;
      }
      var wait = RETRY_MS[Math.min(retries, RETRY_MS.length - 1)];
      retries += 1;
      say("off", "Live updates paused");
      window.setTimeout(connect, wait);
    });
  }

  placeFeed();
  say("connecting", "Connecting…");
  connect();
  window.addEventListener("pagehide", function () { if (source) { source.close(); } });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { hadError = true; connect(); }  // back from the page cache
  });
})();
