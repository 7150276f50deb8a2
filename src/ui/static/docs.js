/*
 * /docs: swagger-ui over the service's OpenAPI document, with "Try it out". The API key the
 * console pages keep in this tab's session storage is filled in; a key given to "Authorize" here
 * is kept there too. Nothing is fetched from anywhere but this service (no validator badge).
 */
(function () {
  'use strict';
  var KEY = 'nce-ood.apiKey';

  function stored() {
    try {
      return sessionStorage.getItem(KEY);
    } catch {
      return null;
    }
  }

  /**
   * swagger-ui leaves some form controls without an accessible name (the servers and examples
   * selects, whose wrapping label holds only their options; the request body's textarea): give
   * them one.
   */
  function nameControls(root) {
    var controls = root.querySelectorAll('select:not([aria-label]), textarea:not([aria-label])');
    for (var i = 0; i < controls.length; i++) {
      var c = controls[i];
      var name = c.tagName === 'TEXTAREA' ? 'Request body' : c.id === 'servers' ? 'Server' : c.className.indexOf('examples') >= 0 ? 'Example' : 'Choose';
      c.setAttribute('aria-label', name);
    }
  }

  function start() {
    new MutationObserver(function () {
      nameControls(document);
    }).observe(document.getElementById('swagger'), { childList: true, subtree: true });
    var ui = SwaggerUIBundle({
      url: '/openapi.json',
      dom_id: '#swagger',
      deepLinking: false,
      validatorUrl: null,
      persistAuthorization: false,
      presets: [SwaggerUIBundle.presets.apis],
      layout: 'BaseLayout',
      requestInterceptor: function (req) {
        var headers = req.headers || {};
        var key = headers['X-API-Key'] || (headers.Authorization || '').replace(/^Bearer /, '');
        if (key && req.url.indexOf('/openapi.json') < 0) {
          try {
            sessionStorage.setItem(KEY, key);
          } catch {
            /* storage unavailable */
          }
        }
        return req;
      },
      onComplete: function () {
        var key = stored();
        if (key) ui.preauthorizeApiKey('apiKey', key);
      },
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
