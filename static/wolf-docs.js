/* Starts Swagger UI (#swagger-ui) or ReDoc (#redoc) from the vendored bundles on Wolf's
   /docs and /redoc pages. An external file: the CSP allows no inline script. */
(function () {
  "use strict";
  function start() {
    var swagger = document.getElementById("swagger-ui");
    if (swagger && window.SwaggerUIBundle) {
      window.ui = window.SwaggerUIBundle({
        url: swagger.getAttribute("data-openapi-url"),
        domNode: swagger,
        deepLinking: true,
        persistAuthorization: false,
        tryItOutEnabled: false,
        // The dashboard session cookie authenticates reading /openapi.json; API calls made
        // with "Try it out" carry the bearer key entered under Authorize.
        requestInterceptor: function (req) { req.credentials = "same-origin"; return req; },
      });
    }
    var redoc = document.getElementById("redoc");
    if (redoc && window.Redoc) {
      window.Redoc.init(redoc.getAttribute("data-openapi-url"), { hideDownloadButton: false, disableSearch: false }, redoc);
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
