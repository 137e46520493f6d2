// Runs before the dashboard's modules. A desktop session with LANG=C makes
// WebKitGTK report the language "C", which no Intl formatter accepts, and
// the chart library formats numbers with navigator.language as it loads.
// Report US English instead of a language tag that cannot work.
(function () {
  try {
    new Intl.NumberFormat(navigator.language);
  } catch (e) {
    Object.defineProperty(Navigator.prototype, 'language', { get: function () { return 'en-US'; } });
    Object.defineProperty(Navigator.prototype, 'languages', { get: function () { return ['en-US']; } });
  }
})();
