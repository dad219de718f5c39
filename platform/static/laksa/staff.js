/* Staff complaint page: the response template picker fills the text box (without scripts an
   empty box with a template chosen sends the template); each form is sent once. */
(function () {
  "use strict";
  document.querySelectorAll("select[data-fills]").forEach(function (select) {
    select.addEventListener("change", function () {
      var target = document.getElementById(select.getAttribute("data-fills"));
      var option = select.options[select.selectedIndex];
      if (target && option && option.getAttribute("data-body")) {
        target.value = option.getAttribute("data-body");
        target.focus();
      }
    });
  });
  if (window.laksa) {
    document.querySelectorAll(".action-forms form").forEach(function (form) { window.laksa.oncePerSubmit(form, null); });
  }
})();
