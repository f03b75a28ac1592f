/* The console's behaviour: the CSRF header on htmx requests, error answers shown in the message
   box, live countdowns of deadlines, and the ECharts charts (their data is JSON in the chart's
   data-series attribute, so no page ever builds a script from collected text). No inline scripts
   anywhere. */
(function () {
  "use strict";

  function meta(name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") : null;
  }

  // ---- htmx: CSRF token and error answers ----------------------------------------------------
  document.addEventListener("htmx:configRequest", function (evt) {
    var token = meta("csrf-token");
    if (token) evt.detail.headers["X-CSRF-Token"] = token;
  });
  if (window.htmx) {
    // Nothing we swap in needs to run code: collected text could only ever become inert markup.
    window.htmx.config.allowScriptTags = false;
    window.htmx.config.allowEval = false;
    // htmx would add a <style> element for its request indicators (the console uses none); the
    // Content-Security-Policy allows only our own style sheets.
    window.htmx.config.includeIndicatorStyles = false;
  }
  // A refusal (400/403/404/409) from one of our actions carries a message fragment and
  // HX-Retarget (the message box): show it. Other error answers fall through to responseError.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var xhr = evt.detail.xhr;
    // The login ran out (the wall display polls for hours): go to the login page, do not swap it in.
    if (xhr && xhr.responseURL && new URL(xhr.responseURL).pathname === "/login") {
      evt.detail.shouldSwap = false;
      window.location.assign("/login");
      return;
    }
    if (xhr && xhr.status >= 400 && xhr.status < 500 && xhr.getResponseHeader("HX-Retarget")) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
  });
  document.addEventListener("htmx:responseError", function (evt) {
    var box = document.getElementById("messages");
    if (!box) return;
    var p = document.createElement("p");
    p.className = "flash error";
    p.setAttribute("role", "alert");
    var status = evt.detail.xhr ? evt.detail.xhr.status : 0;
    p.textContent = status === 401 ? "登录已过期，请刷新页面重新登录。" : "操作未完成（" + status + "），请刷新页面后重试。";
    box.replaceChildren(p);
  });

  // ---- countdowns ----------------------------------------------------------------------------
  // The server's clock decides what is overdue: correct for the difference to this computer's.
  var serverNow = meta("server-now");
  var offset = serverNow ? Date.parse(serverNow) - Date.now() : 0;
  if (!isFinite(offset)) offset = 0;

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function describe(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400);
    var h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60);
    var sec = s % 60;
    return (d ? d + "天" : "") + h + "小时" + pad(m) + "分" + pad(sec) + "秒";
  }

  function tick() {
    var now = Date.now() + offset;
    var items = document.querySelectorAll("[data-due]");
    for (var i = 0; i < items.length; i++) {
      var el = items[i];
      var due = Date.parse(el.getAttribute("data-due"));
      if (!isFinite(due)) continue;
      var left = due - now;
      el.textContent = (left >= 0 ? "剩余 " : "已超时 ") + describe(left);
      el.classList.toggle("live-overdue", left < 0);
      el.classList.toggle("live-soon", left >= 0 && left < 30 * 60 * 1000);
    }
  }

  // ---- charts --------------------------------------------------------------------------------
  var dark = function () {
    return document.body.classList.contains("screen");
  };

  function volumeOption(data) {
    var text = dark() ? "#d7e3f4" : "#333";
    return {
      backgroundColor: "transparent",
      textStyle: { color: text },
      tooltip: { trigger: "axis" },
      legend: { data: ["信息量", "负面占比"], top: 0, textStyle: { color: text } },
      grid: { left: 50, right: 50, top: 48, bottom: 30 },
      xAxis: { type: "category", data: data.hours, axisLabel: { color: text } },
      yAxis: [
        { type: "value", name: "条", minInterval: 1, axisLabel: { color: text } },
        { type: "value", name: "%", min: 0, max: 100, axisLabel: { color: text } },
      ],
      series: [
        { name: "信息量", type: "line", smooth: true, showSymbol: data.posts.length < 30, areaStyle: { opacity: 0.15 }, data: data.posts, color: "#1976d2" },
        { name: "负面占比", type: "line", yAxisIndex: 1, connectNulls: true, showSymbol: true, symbolSize: 4, data: data.negative_share, color: "#d32f2f" },
      ],
    };
  }

  function pieOption(items) {
    var colours = { negative: "#d32f2f", neutral: "#9e9e9e", positive: "#388e3c" };
    return {
      backgroundColor: "transparent",
      tooltip: { trigger: "item", formatter: "{b}：{c}（{d}%）" },
      series: [
        {
          type: "pie",
          radius: ["40%", "70%"],
          data: items.filter(function (it) {
            return it.value > 0;
          }).map(function (it) {
            return { name: it.name, value: it.value, itemStyle: { color: colours[it.key] } };
          }),
        },
      ],
    };
  }

  function initCharts(root) {
    if (!window.echarts) return;
    var els = (root || document).querySelectorAll("[data-chart]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var data;
      try {
        data = JSON.parse(el.getAttribute("data-series") || "null");
      } catch (e) {
        continue;
      }
      if (!data) continue;
      var existing = window.echarts.getInstanceByDom(el);
      if (existing) existing.dispose();
      var chart = window.echarts.init(el, dark() ? "dark" : null);
      chart.setOption(el.getAttribute("data-chart") === "pie" ? pieOption(data) : volumeOption(data));
    }
  }

  window.addEventListener("resize", function () {
    if (!window.echarts) return;
    var els = document.querySelectorAll("[data-chart]");
    for (var i = 0; i < els.length; i++) {
      var chart = window.echarts.getInstanceByDom(els[i]);
      if (chart) chart.resize();
    }
  });

  document.addEventListener("htmx:afterSwap", function (evt) {
    initCharts(evt.detail.target);
    tick();
  });

  // ---- live notices: server-sent events from /live ------------------------------------------
  // A small toast per new or re-opened alert and per deadline turning due soon / overdue / done;
  // the dashboard's panels reload. All text goes in through textContent, never as markup.
  var refreshTimer = null;

  function refreshPanels() {
    var panels = document.getElementById("panels");
    if (!panels || !window.htmx || refreshTimer) return;
    refreshTimer = window.setTimeout(function () {
      refreshTimer = null;
      var url = "/dashboard/panels" + (dark() ? "?screen=1" : "");
      window.htmx.ajax("GET", url, { target: "#panels", swap: "innerHTML" });
    }, 1000);
  }

  function toast(box, kind, text, href) {
    var item = document.createElement("div");
    item.className = "flash live-toast live-" + kind;
    item.style.cssText =
      "background:#fff;border:1px solid #ccc;border-left:4px solid " +
      (kind === "alert" || kind === "overdue" || kind === "missed" ? "#d32f2f" : "#f57c00") +
      ";box-shadow:0 2px 8px rgba(0,0,0,.15);color:#222;margin:0 0 8px;cursor:default;";
    var label = document.createElement("span");
    label.textContent = text;
    item.appendChild(label);
    if (href) {
      var link = document.createElement("a");
      link.href = href;
      link.textContent = " 查看";
      item.appendChild(link);
    }
    var close = function () {
      if (item.parentNode) item.parentNode.removeChild(item);
    };
    item.addEventListener("click", function (evt) {
      if (evt.target !== item.querySelector("a")) close();
    });
    box.insertBefore(item, box.firstChild);
    while (box.children.length > 5) box.removeChild(box.lastChild);
    window.setTimeout(close, 15000);
  }

  function parse(evt) {
    try {
      return JSON.parse(evt.data);
    } catch (e) {
      return null;
    }
  }

  function startLive() {
    var box = document.getElementById("live-notices");
    if (!box || !window.EventSource) return;
    box.style.cssText = "position:fixed;right:16px;bottom:16px;z-index:1000;max-width:380px;";
    var url = box.getAttribute("data-live-url") || "/live";
    if (serverNow) url += "?since=" + encodeURIComponent(serverNow);
    var source = new window.EventSource(url);
    source.addEventListener("alert", function (evt) {
      var a = parse(evt);
      if (!a) return;
      var what = a.kind === "flare_up" ? "舆情反复" : a.repeats > 0 ? "预警更新" : "新预警";
      var link = a.id ? "/alerts/" + encodeURIComponent(String(a.id)) : "/alerts";
      toast(box, "alert", what + "【" + a.grade + "】" + a.title + "（" + a.unit + "）", link);
      refreshPanels();
    });
    source.addEventListener("deadline", function (evt) {
      var d = parse(evt);
      if (!d) return;
      var text = "时限" + d.state_label + "：" + d.label + " · " + d.case_title + "（" + d.unit + "）";
      toast(box, d.state, text, "/cases/" + encodeURIComponent(String(d.case_id)));
      refreshPanels();
    });
    window.addEventListener("pagehide", function () {
      source.close();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    initCharts(document);
    tick();
    window.setInterval(tick, 1000);
    startLive();
  });
})();
