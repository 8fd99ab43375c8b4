using MassTransit.Configuration;
using MassTransit.Saga;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Saga.Components.EventStore;
using Saga.Components.Transfers;

// Beside MassTransit's own repository extensions, so the registration reads like theirs.
// ReSharper disable once CheckNamespace
namespace MassTransit;

public static class EventSourcedRepositoryRegistration
{
    /// <summary>
    /// Keeps transfers as Marten event streams (<see cref="EventSourcedSagaRepository"/>). Needs an
    /// <c>IDocumentStore</c> configured with <see cref="TransferEventStore.Configure"/>.
    /// </summary>
    public static ISagaRegistrationConfigurator<TransferState> EventSourcedRepository(this ISagaRegistrationConfigurator<TransferState> configurator)
    {
        configurator.Repository(services =>
        {
            services.TryAddSingleton(TimeProvider.System);
            services.TryAddSingleton<TransferMetrics>();
            services.TryAddSingleton<TransferCommits>();
            services.RegisterLoadSagaRepository<TransferState, EventSourcedSagaRepository>();
            services.RegisterQuerySagaRepository<TransferState, EventSourcedSagaRepository>();
            services.RegisterSagaRepository<TransferState, EventSourcedSagaRepository, SagaConsumeContextFactory<EventSourcedSagaRepository, TransferState>, EventSourcedSagaRepository>();
        });
        return configurator;
    }
}
