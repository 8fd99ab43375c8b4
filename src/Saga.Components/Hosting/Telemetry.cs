using MassTransit.Logging;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Saga.Components.Hosting;

public static class Telemetry
{
    /// <summary>The meter of the transfer figures (<see cref="Transfers.TransferMetrics"/>).</summary>
    public const string SagaMeter = "Saga.Transfers";

    /// <summary>
    /// Traces through ASP.NET Core, MassTransit (which carries the trace across RabbitMQ) and Npgsql,
    /// exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; metrics on /metrics (Prometheus text).
    /// </summary>
    public static IServiceCollection AddSagaTelemetry(this IServiceCollection services, IConfiguration configuration, string serviceName)
    {
        var otlp = configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] is { Length: > 0 };
        var telemetry = services.AddOpenTelemetry().ConfigureResource(r => r.AddService(serviceName));
        // Spans are recorded only when something receives them: with no exporter, listening costs CPU for nothing.
        if (otlp)
        {
            telemetry.WithTracing(t => t
                .AddAspNetCoreInstrumentation(o => o.Filter = http => !http.Request.Path.StartsWithSegments("/health") && !http.Request.Path.StartsWithSegments("/metrics"))
                .AddSource(DiagnosticHeaders.DefaultListenerName, "Npgsql")
                .AddOtlpExporter());
        }
        telemetry.WithMetrics(m =>
            {
                m.AddAspNetCoreInstrumentation();
                m.AddMeter(SagaMeter);
                m.AddPrometheusExporter();
                if (otlp)
                {
                    m.AddOtlpExporter();
                }
            });
        return services;
    }

    public static WebApplication MapSagaMetrics(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }
}
