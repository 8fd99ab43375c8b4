using System.Globalization;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Microsoft.OpenApi;
using Saga.Api.Endpoints;
using Scalar.AspNetCore;
using Saga.Components.Ledgers;
using Saga.Components.Security;

namespace Saga.Api;

/// <summary>
/// The OpenAPI document at <c>/openapi/v1.json</c>. Each endpoint declares its operation id, summary and the
/// responses it returns where it is mapped; this adds what those cannot say: the bodies and headers the handlers
/// read themselves (so that a malformed body is still our own problem, not routing's 415), the bearer scheme with
/// the role each operation needs, and the headers that come with 201/202, 429 and 503.
/// </summary>
internal static class ApiDocument
{
    public const string BearerScheme = "bearer";
    public const string ReferencePath = "/reference";
    private const string ProblemJson = "application/problem+json";

    public static IServiceCollection AddApiDocument(this IServiceCollection services) =>
        services
            // Schemas are made with these options: numbers are numbers, as Http.ReadBody reads them (answers are unchanged).
            .ConfigureHttpJsonOptions(o => o.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict)
            .AddOpenApi(o =>
        {
            o.AddDocumentTransformer((document, _, _) =>
            {
                // One document for every deployment: a client is given the Api's address, as the generated one is
                // (src/Saga.Api.Client), so the document served is the one that client was generated from.
                document.Servers = [];
                document.Info.Title = "Saga transfers";
                document.Info.Contact = new OpenApiContact { Name = "The team that runs this Api (its operators)" };
                document.Info.Version = "1";
                document.Info.Description =
                    "Money transfers between ledgers with the guarantees of a transactional message: a transfer is accepted as a half " +
                    "message, debited by its source ledger, credited once by its destination, and ends Completed, RolledBack or " +
                    "NeedsAttention (then an operator repairs it). Errors are problem details (RFC 9457).";
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    BearerFormat = "JWT",
                    Description = $"A JWT (validated as RFC8725 advises: signature, issuer, audience, lifetime) whose `role` claims grant " +
                                  $"`{Roles.Transfers}` (submit and read) or `{Roles.Operator}` (open accounts, repair, read everything).",
                };
                AddProbes(document);
                Complete(document);
                return Task.CompletedTask;
            });
            o.AddSchemaTransformer((schema, context, _) =>
            {
                var type = context.JsonTypeInfo.Type;
                // Money is a decimal: said so, a generated client reads it as one, never as the double `number` would default to.
                if (type == typeof(decimal) || type == typeof(decimal?))
                {
                    schema.Format = "decimal";
                }
                if (type == typeof(AccountBody) || type == typeof(OpenAccountRequest))
                {
                    Constrain(schema, "ledger", s => (s.Pattern, s.MaxLength) = (AccountIds.Pattern, AccountIds.MaxLength));
                    Constrain(schema, "accountId", s => (s.Pattern, s.MaxLength) = (AccountIds.Pattern, AccountIds.MaxLength));
                }
                if (type == typeof(TransferRequest))
                {
                    var max = context.ApplicationServices.GetRequiredService<IOptions<ApiOptions>>().Value.MaxAmount;
                    Constrain(schema, "amount", s => (s.ExclusiveMinimum, s.Maximum, s.MultipleOf, s.Format) =
                        ("0", max.ToString(CultureInfo.InvariantCulture), 0.01m, "decimal"));
                    Require(schema, "from", "to", "amount");
                }
                if (type == typeof(AccountBody))
                {
                    Require(schema, "ledger", "accountId");
                }
                if (type == typeof(OpenAccountRequest))
                {
                    Constrain(schema, "openingBalance", s => (s.Minimum, s.MultipleOf, s.Format) = ("0", 0.01m, "decimal"));
                    Require(schema, "accountId", "openingBalance");
                }
                if (type == typeof(RepairRequest))
                {
                    Constrain(schema, "reason", s => (s.MinLength, s.MaxLength) = (1, TransferValidation.MaxReasonLength));
                    Require(schema, "reason");
                }
                return Task.CompletedTask;
            });
            o.AddOperationTransformer((operation, context, _) =>
            {
                // Every document has endpoints that declare problems, so ProblemDetails is among its schemas.
                IOpenApiSchema problem = new OpenApiSchemaReference(nameof(Microsoft.AspNetCore.Mvc.ProblemDetails), context.Document);
                var metadata = context.Description.ActionDescriptor.EndpointMetadata;
                var roles = metadata.OfType<IAuthorizeData>().Select(a => a.Policy).OfType<string>().Distinct().ToList();
                if (roles.Count > 0)
                {
                    operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = roles }];
                    operation.Description = $"{operation.Description}\n\nRequires the role {string.Join(" or ", roles.Select(r => $"`{r}`"))}.".TrimStart();
                    AddProblem(operation, problem, 401, "No valid bearer token");
                    AddProblem(operation, problem, 403, $"The token lacks the role {string.Join(" or ", roles)}");
                }
                if (!metadata.OfType<DisableRateLimitingAttribute>().Any())
                {
                    AddProblem(operation, problem, 429, "Too many requests from this caller").Headers![HeaderNames.RetryAfter] = RetryAfterHeader();
                }
                foreach (var (status, response) in operation.Responses ?? [])
                {
                    if (status is "201" or "202" && response is OpenApiResponse created)
                    {
                        created.Headers ??= new Dictionary<string, IOpenApiHeader>();
                        created.Headers[HeaderNames.Location] = new OpenApiHeader
                        {
                            Description = "Where the resource is read from", Required = true, Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "uri-reference", MaxLength = MaxLocation },
                        };
                    }
                    if (status == "503" && response is OpenApiResponse unavailable)
                    {
                        unavailable.Headers ??= new Dictionary<string, IOpenApiHeader>();
                        unavailable.Headers[HeaderNames.RetryAfter] = RetryAfterHeader();
                    }
                }
                return Task.CompletedTask;
            });
        });

    // The probes and the scrape are mapped as plain endpoints (Saga.Components.Hosting), which ApiExplorer does not
    // list: they are described here, for the tools that watch the Api. Anonymous, and never rate-limited but /metrics.
    private static void AddProbes(OpenApiDocument document)
    {
        document.Paths ??= [];
        document.Tags ??= new HashSet<OpenApiTag>();
        document.Tags.Add(new OpenApiTag { Name = "Operations", Description = "Health probes and metrics, for orchestrators and monitoring" });
        OpenApiResponse Text(string status) => new()
        {
            Description = status,
            Content = new Dictionary<string, OpenApiMediaType>
            {
                // A pattern, not an enum: a generated client reads the text as text (NSwag makes an enum of a text/plain answer it cannot convert).
                ["text/plain"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Pattern = $"^{status}$", MaxLength = status.Length } },
            },
        };
        OpenApiPathItem Get(string id, string summary, string description, Dictionary<string, OpenApiResponse> responses)
        {
            var operation = new OpenApiOperation
            {
                OperationId = id, Summary = summary, Description = description, Tags = new HashSet<OpenApiTagReference> { new("Operations", document) },
                Security = [new OpenApiSecurityRequirement()], Responses = [],
            };
            foreach (var (status, response) in responses)
            {
                operation.Responses[status] = response;
            }
            return new OpenApiPathItem { Operations = new Dictionary<HttpMethod, OpenApiOperation> { [HttpMethod.Get] = operation } };
        }
        document.Paths["/health/live"] = Get("Live", "Liveness probe", "The process runs: `Healthy`. Anonymous; never rate-limited.",
            new() { ["200"] = Text("Healthy") });
        document.Paths["/health/ready"] = Get("Ready", "Readiness probe", "The Api reaches RabbitMQ and PostgreSQL: `Healthy`; else 503 `Unhealthy`. Anonymous; never rate-limited.",
            new() { ["200"] = Text("Healthy"), ["503"] = Text("Unhealthy") });
        var metrics = Get("Metrics", "Prometheus metrics", "The Api's metrics in Prometheus' text format (README, Observability). Anonymous.",
            new()
            {
                ["200"] = new OpenApiResponse
                {
                    Description = "The metrics",
                    Content = new Dictionary<string, OpenApiMediaType> { ["text/plain"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String } } },
                },
            });
        AddProblem(metrics.Operations![HttpMethod.Get], new OpenApiSchemaReference(nameof(Microsoft.AspNetCore.Mvc.ProblemDetails), document), 429,
            "Too many requests from this caller").Headers![HeaderNames.RetryAfter] = RetryAfterHeader();
        document.Paths["/metrics"] = metrics;
    }

    // A Location is one of the Api's own paths: /ledgers/{ledger}/accounts/{accountId} at most.
    private const int MaxLocation = 256;

    /// <summary>
    /// What every operation and schema tells alike, made true by the Api and said here once: 500 as a problem, the
    /// caller's rate limit on every answer the limiter governs (an operation that can answer 429), the CORS header, and
    /// a bound on every string and integer (the answers' free text aside: tools/api-lint/.spectral.yaml says why).
    /// </summary>
    private static void Complete(OpenApiDocument document)
    {
        IOpenApiSchema problem = new OpenApiSchemaReference(nameof(Microsoft.AspNetCore.Mvc.ProblemDetails), document);
        foreach (var operation in (document.Paths ?? []).Values.SelectMany(p => p.Operations?.Values.AsEnumerable() ?? []))
        {
            AddProblem(operation, problem, 500, "An unexpected error; the Api's log tells what it was");
            var limited = operation.Responses!.ContainsKey("429");
            foreach (var (status, response) in operation.Responses)
            {
                if (response is not OpenApiResponse answer)
                {
                    continue;
                }
                answer.Headers ??= new Dictionary<string, IOpenApiHeader>();
                if (limited && status[0] is '2' or '4')
                {
                    answer.Headers[ApiRateLimiting.LimitHeader] = new OpenApiHeader
                    {
                        Description = "Requests per second this caller may make", Required = true,
                        Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Minimum = "1", Maximum = int.MaxValue.ToString(CultureInfo.InvariantCulture) },
                    };
                    answer.Headers[ApiRateLimiting.ResetHeader] = new OpenApiHeader
                    {
                        Description = "Seconds until the caller's allowance is whole again", Required = true,
                        Schema = new OpenApiSchema
                        {
                            Type = JsonSchemaType.Integer, Format = "int32", Minimum = "0", Maximum = Http.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture),
                        },
                    };
                }
                answer.Headers[HeaderNames.AccessControlAllowOrigin] = new OpenApiHeader
                {
                    Description = "Sent to a browser whose Origin is one of the Api's allowed origins (Api:AllowedOrigins; none by default)",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "uri", MaxLength = MaxLocation * 2 },
                };
            }
            foreach (var parameter in (operation.Parameters ?? []).OfType<OpenApiParameter>())
            {
                if (parameter.Schema is OpenApiSchema schema)
                {
                    Bound(schema, parameter.Name!);
                }
            }
        }
        foreach (var (name, component) in document.Components?.Schemas ?? new Dictionary<string, IOpenApiSchema>())
        {
            foreach (var (property, schema) in component.Properties ?? new Dictionary<string, IOpenApiSchema>())
            {
                if (schema is OpenApiSchema inline)
                {
                    Bound(inline, property, name == nameof(HttpValidationProblemDetails) ? nameof(Microsoft.AspNetCore.Mvc.ProblemDetails) : name);
                }
            }
        }
    }

    private static void Bound(OpenApiSchema schema, string name, string? of = null)
    {
        if (schema.Items is OpenApiSchema items)
        {
            Bound(items, name, of);
        }
        if ((of, name) == (nameof(Microsoft.AspNetCore.Mvc.ProblemDetails), "errors") && schema.AdditionalProperties is OpenApiSchema messages)
        {
            messages.MaxItems = Http.MaxFieldErrors;
            if (messages.Items is OpenApiSchema message)
            {
                message.MaxLength = Http.MaxProblemDetail;
            }
        }
        if (schema.Type?.HasFlag(JsonSchemaType.Array) == true)
        {
            schema.MaxItems ??= (of, name) switch
            {
                (nameof(TransferPage), "items") => TransferValidation.MaxLimit,
                (nameof(AccountTransfersResponse), "items") => Contracts.ListAccountTransfers.MaxTake,
                _ => null,
            };
        }
        var type = schema.Type ?? 0;
        if (type.HasFlag(JsonSchemaType.String) && schema.MaxLength is null && schema.Enum is not { Count: > 0 })
        {
            (schema.Pattern, schema.MaxLength) = (schema.Format, of, name) switch
            {
                ("uuid", _, _) => (schema.Pattern, 36),
                ("date-time", _, _) => (schema.Pattern, 33), // a DateTimeOffset's round-trip form: 2026-12-04T20:44:00.1234567+00:00
                (_, _, "ledger" or "accountId") => (AccountIds.Pattern, AccountIds.MaxLength),
                (_, _, "owner") => (schema.Pattern, AccountValidation.MaxOwnerLength),
                (_, nameof(AccountTransfersResponse), "next") or (_, null, "before") => (AccountTransfersCursor.Pattern, AccountTransfersCursor.TextLength),
                (_, nameof(TransferPage), "next") => (TransferCursor.Pattern, TransferCursor.MaxLength),
                // Names, not enums, in answers: a client generated today must still read a state added tomorrow.
                (_, _, "state") => ("^[A-Za-z]+$", 32),
                (_, _, "entry") => ("^[a-z][A-Za-z]*$", 32),
                (_, nameof(TransferEvent), "type") => ("^[A-Za-z][A-Za-z0-9]*$", 200),
                (_, nameof(Microsoft.AspNetCore.Mvc.ProblemDetails), "title") => (schema.Pattern, Http.MaxProblemTitle),
                (_, nameof(Microsoft.AspNetCore.Mvc.ProblemDetails), "detail") => (schema.Pattern, Http.MaxProblemDetail),
                (_, nameof(Microsoft.AspNetCore.Mvc.ProblemDetails), "type" or "instance") => (schema.Pattern, Http.MaxProblemUri),
                _ => (schema.Pattern, schema.MaxLength),
            };
        }
        if (type.HasFlag(JsonSchemaType.Integer) && (schema.Minimum is null || schema.Maximum is null))
        {
            (schema.Minimum, schema.Maximum) = name switch
            {
                "checkBacks" => ("0", int.MaxValue.ToString(CultureInfo.InvariantCulture)),
                "version" => ("1", long.MaxValue.ToString(CultureInfo.InvariantCulture)),
                "status" => ("100", "599"),
                _ => (schema.Minimum, schema.Maximum),
            };
        }
    }

    // The bodies' properties are nullable so that the Api can name a missing one (400); in the document they are required.
    private static void Require(OpenApiSchema schema, params string[] properties)
    {
        schema.Required = new HashSet<string>(properties);
        foreach (var property in properties)
        {
            Constrain(schema, property, s => s.Type &= ~JsonSchemaType.Null);
        }
    }

    private static void Constrain(OpenApiSchema schema, string property, Action<OpenApiSchema> constrain)
    {
        if (schema.Properties is { } properties && properties.TryGetValue(property, out var found) && found is OpenApiSchema inline)
        {
            constrain(inline);
        }
    }

    private static OpenApiHeader RetryAfterHeader() => new()
    {
        Description = "Seconds to wait before sending the request again",
        Required = true,
        Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Minimum = "1", Maximum = "3600" },
    };

    private static OpenApiResponse AddProblem(OpenApiOperation operation, IOpenApiSchema problem, int status, string description)
    {
        operation.Responses ??= [];
        var key = status.ToString(CultureInfo.InvariantCulture);
        if (operation.Responses.TryGetValue(key, out var existing) && existing is OpenApiResponse known)
        {
            known.Headers ??= new Dictionary<string, IOpenApiHeader>();
            return known;
        }
        var response = new OpenApiResponse
        {
            Description = description,
            Headers = new Dictionary<string, IOpenApiHeader>(),
            Content = new Dictionary<string, OpenApiMediaType> { [ProblemJson] = new() { Schema = problem } },
        };
        operation.Responses[key] = response;
        return response;
    }

    /// <summary>The document at /openapi/v1.json, and the reference page where <see cref="ApiOptions.ReferencePage"/> says so.</summary>
    public static WebApplication MapApiDocument(this WebApplication app)
    {
        app.MapOpenApi();
        var options = app.Services.GetRequiredService<IOptions<ApiOptions>>().Value;
        if (options.ReferencePage ?? app.Environment.IsDevelopment())
        {
            // Scalar's script is embedded in its package and served from here; its fonts, telemetry and agent would
            // each call out to Scalar's servers, so they are off.
            app.MapScalarApiReference(ReferencePath, o => o
                .WithTitle("Saga transfers: API reference")
                .WithOpenApiRoutePattern("/openapi/{documentName}.json")
                .DisableDefaultFonts()
                .DisableTelemetry()
                .DisableAgent()
                .DisableMcp()
                .HideDeveloperTools());
        }
        return app;
    }

    /// <summary>The JSON body the handler reads itself (<see cref="Http.ReadBody{T}"/>), required.</summary>
    public static RouteHandlerBuilder WithJsonBody<T>(this RouteHandlerBuilder builder) =>
        builder.AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/json"] = new() { Schema = await Component(context, typeof(T), cancellationToken) },
                },
            });

    // A schema made here would be inline (only ApiExplorer's own are components): registered by its type's name, it
    // and the bodies it holds (a transfer's from and to) are named types for a generated client, as the answers are.
    private static async Task<IOpenApiSchema> Component(OpenApiOperationTransformerContext context, Type type, CancellationToken cancellationToken)
    {
        var document = context.Document!;
        if (document.Components?.Schemas?.ContainsKey(type.Name) != true)
        {
            var schema = await context.GetOrCreateSchemaAsync(type, null, cancellationToken);
            foreach (var property in type.GetProperties())
            {
                var held = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
                var name = System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(property.Name);
                if (held.Namespace == typeof(AccountBody).Namespace && schema.Properties?.ContainsKey(name) == true)
                {
                    schema.Properties[name] = await Component(context, held, cancellationToken);
                }
            }
            document.AddComponent(type.Name, schema);
        }
        return new OpenApiSchemaReference(type.Name, document);
    }

    /// <summary>The header that names a submission (<see cref="TransferValidation.IdempotencyKey"/>).</summary>
    public static RouteHandlerBuilder WithIdempotencyKey(this RouteHandlerBuilder builder) =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.Parameters ??= [];
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = TransferValidation.IdempotencyKeyHeader,
                In = ParameterLocation.Header,
                Required = true,
                Description = "Names this submission for this caller: the same key with the same body is the same transfer (debited at most once); " +
                              "with another body it is refused with 409.",
                Schema = new OpenApiSchema
                {
                    Type = JsonSchemaType.String,
                    MinLength = 1,
                    MaxLength = TransferValidation.IdempotencyKeyMaxLength,
                    Pattern = TransferValidation.IdempotencyKeyPattern,
                },
            });
            return Task.CompletedTask;
        });

    /// <summary>The listing's query, which the handler reads whole (<see cref="TransferValidation.Listing"/>).</summary>
    public static RouteHandlerBuilder WithListingQuery(this RouteHandlerBuilder builder) =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.Parameters ??= [];
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = "state", In = ParameterLocation.Query, Required = true, Description = "The state of the transfers listed",
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [.. Contracts.TransferStates.All.Select(s => (System.Text.Json.Nodes.JsonNode)s)] },
            });
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = "limit", In = ParameterLocation.Query, Description = "How many transfers a page holds",
                Schema = new OpenApiSchema
                {
                    Type = JsonSchemaType.Integer, Format = "int32", Minimum = "1",
                    Maximum = TransferValidation.MaxLimit.ToString(CultureInfo.InvariantCulture), Default = TransferValidation.DefaultLimit,
                },
            });
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = "after", In = ParameterLocation.Query, Description = "The `next` of the previous page",
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = TransferCursor.MaxLength, Pattern = TransferCursor.Pattern },
            });
            return Task.CompletedTask;
        });

    /// <summary><c>take</c>, which the handler reads as text to name a malformed one (<see cref="AccountValidation.Listing"/>), is a whole number.</summary>
    public static RouteHandlerBuilder WithTakeQuery(this RouteHandlerBuilder builder) =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            foreach (var take in (operation.Parameters ?? []).OfType<OpenApiParameter>().Where(p => p.Name == "take"))
            {
                take.Description = "How many entries a page holds";
                take.Schema = new OpenApiSchema
                {
                    Type = JsonSchemaType.Integer, Format = "int32", Minimum = "1",
                    Maximum = Contracts.ListAccountTransfers.MaxTake.ToString(CultureInfo.InvariantCulture), Default = AccountValidation.DefaultTake,
                };
            }
            return Task.CompletedTask;
        });

    /// <summary>Problem responses (<c>application/problem+json</c>), each described by why the endpoint gives it.</summary>
    public static RouteHandlerBuilder Problems(this RouteHandlerBuilder builder, params (int Status, string Why)[] problems)
    {
        foreach (var (status, _) in problems)
        {
            // A 400 names each field it refuses in `errors` (Http.Invalid); one that could not read the body has none.
            _ = status == StatusCodes.Status400BadRequest ? builder.ProducesValidationProblem() : builder.ProducesProblem(status);
        }
        return builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            foreach (var (status, why) in problems)
            {
                if (operation.Responses is { } responses && responses.TryGetValue(status.ToString(CultureInfo.InvariantCulture), out var found) && found is OpenApiResponse response)
                {
                    response.Description = why;
                }
            }
            return Task.CompletedTask;
        });
    }
}
