/* nianbao: drag-and-drop upload with progress, and polling of background work. No libraries. */
(function () {
  "use strict";

  function mb(n) {
    if (n > 0 && n < 104858) return "不到 0.1";
    return (n / 1048576).toFixed(1).replace(/\.0$/, "");
  }

  function setupUpload(form) {
    var input = form.querySelector("input[type=file]");
    var drop = form.querySelector(".drop");
    var chosen = form.querySelector("#chosen");
    var errorBox = form.querySelector("#upload-error");
    var bar = form.querySelector("#upload-progress");
    var submit = form.querySelector("#upload-submit");
    var maxFiles = +form.dataset.maxFiles, maxFile = +form.dataset.maxFileMb * 1048576,
        maxTotal = +form.dataset.maxTotalMb * 1048576;

    function showError(msg) { errorBox.textContent = msg; errorBox.hidden = !msg; }

    function describe() {
      var files = input.files, total = 0;
      for (var i = 0; i < files.length; i++) total += files[i].size;
      chosen.textContent = files.length ? "已选择 " + files.length + " 个文件，共 " + mb(total) + " MB" +
        (files.length <= 5 ? "：" + Array.prototype.map.call(files, function (f) { return f.name; }).join("、") : "") : "";
      showError(check(files));
    }

    function check(files) {
      if (files.length > maxFiles) return "一次最多上传 " + maxFiles + " 个文件，现在选择了 " + files.length + " 个。请分批上传，或把文件打包成 .zip 再上传。";
      var total = 0;
      for (var i = 0; i < files.length; i++) {
        total += files[i].size;
        if (files[i].size > maxFile) return "文件“" + files[i].name + "”（" + mb(files[i].size) + " MB）超过单个文件 " + mb(maxFile) + " MB 的上限。";
      }
      if (total > maxTotal) return "所选文件共 " + mb(total) + " MB，超过每次 " + mb(maxTotal) + " MB 的上限，请分批上传。";
      return "";
    }

    input.addEventListener("change", describe);
    ["dragenter", "dragover"].forEach(function (t) {
      drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (t) {
      drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; describe(); }
    });

    form.addEventListener("submit", function (e) {
      if (!window.FormData || !window.XMLHttpRequest) return; // plain form post still works
      e.preventDefault();
      if (!input.files.length) { showError("请先选择要审核的文件。"); return; }
      var problem = check(input.files);
      if (problem) { showError(problem); return; }
      showError("");
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      var fill = bar.querySelector(".bar span"), text = bar.querySelector("p");
      bar.hidden = false; submit.disabled = true;
      xhr.upload.onprogress = function (ev) {
        if (ev.lengthComputable) {
          var p = Math.round(100 * ev.loaded / ev.total);
          fill.style.width = p + "%"; text.textContent = "正在上传… " + p + "%";
        }
      };
      xhr.onload = function () {
        var doc = null;
        try { doc = JSON.parse(xhr.responseText); } catch (err) { /* not JSON */ }
        if (xhr.status < 300 && doc && doc.url) { text.textContent = "上传完成，正在打开审核页…"; window.location.href = doc.url; return; }
        bar.hidden = true; submit.disabled = false;
        var hdr = xhr.getResponseHeader("X-Nianbao-Message");
        showError((doc && doc.error) || (hdr && decodeURIComponent(hdr)) || "上传失败（" + xhr.status + "），请重试。");
      };
      xhr.onerror = function () {
        bar.hidden = true; submit.disabled = false;
        showError("上传中断：与服务的连接断开。请检查文件大小是否超过上限，或稍后重试。");
      };
      xhr.send(new FormData(form));
    });
  }

  function setupPoll(box) {
    var url = box.dataset.poll, fill = box.querySelector(".bar span"), text = box.querySelector("#progress-text");
    function tick() {
      var xhr = new XMLHttpRequest();
      xhr.open("GET", url);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.onload = function () {
        var doc;
        try { doc = JSON.parse(xhr.responseText); } catch (err) { setTimeout(tick, 2000); return; }
        if (doc.state === "done" || doc.state === "failed") { window.location.reload(); return; }
        if (doc.checked && box.dataset.checked === "0") { window.location.reload(); return; }  // results are in
        var p = doc.progress || {};
        if (p.phase) { text.textContent = p.phase + "：" + p.done + " / " + p.total; fill.style.width = (p.percent || 0) + "%"; }
        setTimeout(tick, 700);
      };
      xhr.onerror = function () { text.textContent = "暂时无法连接服务，正在重试…"; setTimeout(tick, 2000); };
      xhr.send();
    }
    setTimeout(tick, 300);
  }

  function setupPick(input) {
    var out = document.getElementById(input.dataset.names);
    input.addEventListener("change", function () {
      out.textContent = input.files.length ? Array.prototype.map.call(input.files, function (f) { return f.name; }).join("、") : "未选择文件";
    });
  }

  function randomId() {
    var a = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function savedName(xhr, fallback) {
    var cd = xhr.getResponseHeader("Content-Disposition") || "", m = /filename\*=UTF-8''([^;]+)/.exec(cd);
    return m ? decodeURIComponent(m[1]) : fallback;
  }

  function setupRoster(form) {
    // templates for a whole roster take a while: show how far it is, and allow one press only
    var button = form.querySelector("#roster-submit"), box = form.querySelector("#roster-progress"),
        status = form.querySelector("#roster-status"), errorBox = form.querySelector("#roster-error"),
        fill = box.querySelector(".bar span");
    form.addEventListener("submit", function (e) {
      if (!window.FormData || !window.XMLHttpRequest || !window.URL || !URL.createObjectURL) return;
      e.preventDefault();
      if (button.disabled) return;
      var job = randomId(), data = new FormData(form), timer = null;
      data.append("job", job);
      button.disabled = true; button.setAttribute("aria-busy", "true");
      box.hidden = false; errorBox.hidden = true; fill.style.width = "0%";
      status.textContent = "正在读取单位名单…";
      function done() { clearInterval(timer); button.disabled = false; button.removeAttribute("aria-busy"); }
      function poll() {
        var p = new XMLHttpRequest();
        p.open("GET", "/api/templates/progress/" + job);
        p.onload = function () {
          var doc = null;
          try { doc = JSON.parse(p.responseText); } catch (err) { return; }
          if (doc && doc.total) {
            status.textContent = "正在生成模板：" + doc.done + " / " + doc.total + " 个单位";
            fill.style.width = Math.round(100 * doc.done / doc.total) + "%";
          }
        };
        p.send();
      }
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.responseType = "blob";
      xhr.setRequestHeader("Accept", "application/json");
      xhr.onload = function () {
        done();
        if (xhr.status === 200) {
          var name = savedName(xhr, "年报模板.zip"), a = document.createElement("a");
          a.href = URL.createObjectURL(xhr.response); a.download = name;
          document.body.appendChild(a); a.click(); a.remove();
          fill.style.width = "100%"; status.textContent = "已生成：" + name + "（已开始下载）";
          return;
        }
        box.hidden = true;
        var reader = new FileReader();
        reader.onload = function () {
          var doc = null;
          try { doc = JSON.parse(reader.result); } catch (err) { /* not JSON */ }
          errorBox.textContent = (doc && doc.error) || "生成失败（" + xhr.status + "），请重试。";
          errorBox.hidden = false;
        };
        reader.readAsText(xhr.response);
      };
      xhr.onerror = function () {
        done(); box.hidden = true;
        errorBox.textContent = "与服务的连接断开，请稍后重试。"; errorBox.hidden = false;
      };
      xhr.send(data);
      timer = setInterval(poll, 600);
    });
  }

  function setupInvalid(input) {
    // the browser's own message ("match the requested format") is English on many systems
    input.addEventListener("invalid", function () {
      input.setCustomValidity(input.validity.valid ? "" : input.dataset.invalid);
    });
    input.addEventListener("input", function () { input.setCustomValidity(""); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-invalid]"), setupInvalid);
    // widths come from data-percent: the Content-Security-Policy allows no inline styles
    Array.prototype.forEach.call(document.querySelectorAll("[data-percent]"), function (el) {
      el.style.width = (+el.dataset.percent || 0) + "%";
    });
    Array.prototype.forEach.call(document.querySelectorAll("input[type=file][data-names]"), setupPick);
    Array.prototype.forEach.call(document.querySelectorAll("form[data-confirm]"), function (f) {
      f.addEventListener("submit", function (e) { if (!window.confirm(f.dataset.confirm)) e.preventDefault(); });
    });
    var roster = document.getElementById("roster-form");
    if (roster) setupRoster(roster);
    var form = document.getElementById("upload-form");
    if (form) setupUpload(form);
    var box = document.getElementById("progress");
    if (box && box.dataset.poll) setupPoll(box);
  });
})();
