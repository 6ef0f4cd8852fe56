// Swagger UI for the accounts API, served by the service itself.
//
// "Try it out" works with cookie sessions: requests carry credentials, and
// every unsafe one sends X-CSRFToken from the csrftoken cookie (fetched
// first from /accounts/csrf). "Authorize" with a token from an app login
// (`"client": "app"`) sends it as a Bearer token instead.
window.onload = function () {
  function cookie(name) {
    var match = document.cookie.match("(?:^|; )" + name + "=([^;]*)");
    return match ? decodeURIComponent(match[1]) : null;
  }
  fetch("/accounts/csrf", { credentials: "same-origin" });
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    withCredentials: true,
    // A token pasted into "Authorize" is not kept after the page closes.
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
    requestInterceptor: function (request) {
      var method = (request.method || "GET").toUpperCase();
      if (["GET", "HEAD", "OPTIONS", "TRACE"].indexOf(method) === -1) {
        var token = cookie("csrftoken");
        if (token) {
          request.headers["X-CSRFToken"] = token;
        }
      }
      request.credentials = "same-origin";
      return request;
    },
  });
};
