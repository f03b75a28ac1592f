/* /docs: Swagger UI over the API description. Requests made with 「Try it out」 go with the
   session cookie and the page's CSRF token, like the console's own. No inline scripts. */
(function () {
  "use strict";
  var box = document.getElementById("swagger-ui");
  var token = document.querySelector('meta[name="csrf-token"]');
  window.SwaggerUIBundle({
    url: box.getAttribute("data-openapi-url"),
    domNode: box,
    deepLinking: true,
    requestInterceptor: function (request) {
      if (token && request.method && request.method.toUpperCase() !== "GET") {
        request.headers["X-CSRF-Token"] = token.getAttribute("content");
      }
      return request;
    },
  });
})();
