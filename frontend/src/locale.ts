// The locale numbers and dates are formatted in: the system's, unless the
// system names none a browser engine accepts (a desktop session with
// LANG=C makes WebKitGTK report the locale "C", and every Intl formatter
// would throw), then US English.

export const locale: string | undefined = (() => {
  try {
    new Intl.NumberFormat().format(1);
    new Intl.DateTimeFormat().format(0);
    return undefined;
  } catch {
    return 'en-US';
  }
})();
