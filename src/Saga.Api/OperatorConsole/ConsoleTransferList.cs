using static Saga.Api.OperatorConsole.ConsolePages;
using static Saga.Api.OperatorConsole.ConsoleEndpoints;

namespace Saga.Api.OperatorConsole;

/// <summary>Finding transfers: by id.</summary>
internal static class ConsoleTransferList
{
    public static void Map(RouteGroupBuilder console) =>
        console.MapGet("/transfers", Find).RequireAuthorization(ConsoleAuthentication.Viewer);

    private static IResult Find(HttpContext http, string? id) =>
        Guid.TryParse(id?.Trim(), out var transferId)
            ? Results.Redirect($"{Root}/transfers/{transferId}")
            : Message(http, StatusCodes.Status400BadRequest, "Not a transfer id", "A transfer id looks like 3f2504e0-4f89-11d3-9a0c-0305e82c3301.");
}
