using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using Saga.Components.Hosting;

namespace Saga.Components.Ledgers;

/// <summary>
/// Declares the ledger's transfer queue before its bus starts, as MassTransit would, but without the
/// binding from the same-named exchange: declaring needs only configure permission, binding needs write,
/// and write on "ledger-{id}" would let the ledger publish into its own queue. The coordinator declares
/// the exchange and the binding before its first send there (<see cref="Hosting.DestinationQueues"/>).
/// </summary>
public sealed class LedgerQueueDeclaration(LedgerQueueDeclaration.Queue queue, IOptions<RabbitMqOptions> rabbit) : IHostedService
{
    public sealed record Queue(string Name);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var arguments = rabbit.Value.QueueArguments();
        await using var connection = await rabbit.Value.Connect($"declare {queue.Name}", cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        await channel.QueueDeclareAsync(queue.Name, durable: true, exclusive: false, autoDelete: false, arguments, cancellationToken: cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
