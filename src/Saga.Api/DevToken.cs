using Saga.Components.Security;

namespace Saga.Api;

/// <summary>
/// `dev-token`: a token for local use, signed with the checkout's development key (nothing else can be used), whose sub is
/// the subject; it lives as long as the Api allows by default (Auth:MaxLifetime).
/// </summary>
internal static class DevToken
{
    public static int Print(string[] args)
    {
        var roles = new List<string>();
        var subject = "developer";
        for (var i = 0; i < args.Length - 1; i += 2)
        {
            switch (args[i])
            {
                case "--roles":
                    roles.AddRange(args[i + 1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                    break;
                case "--subject":
                    subject = args[i + 1];
                    break;
            }
        }
        // The subject is the token's sub, the caller's identity in the Api: an empty one would be refused there.
        if (roles.Count == 0 || roles.Except([Roles.Transfers, Roles.Operator]).Any() || string.IsNullOrWhiteSpace(subject))
        {
            Console.Error.WriteLine($"usage: dev-token --roles {Roles.Transfers}[,{Roles.Operator}] [--subject sub]");
            return 2;
        }
        Console.WriteLine(DevelopmentTokens.Create(subject, roles, DevelopmentTokens.Lifetime));
        return 0;
    }
}
