using Microsoft.Extensions.Configuration;
using Saga.Components.CheckBacks;

// ReSharper disable once CheckNamespace
namespace Microsoft.Extensions.DependencyInjection;

public static class CheckBackRegistration
{
    /// <summary>The check-back scan, run every second on one coordinator at a time.</summary>
    public static IServiceCollection AddCheckBackScan(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<CheckBackScanOptions>(configuration.GetSection(CheckBackScanOptions.Section));
        services.AddSingleton<CheckBackScan>();
        services.AddHostedService<CheckBackScanService>();
        return services;
    }
}
