using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Saga.Components.Security;

/// <summary>Configuration section "Auth": who issues the Api's bearer tokens.</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>The key of development tokens only: a host outside Development refuses to start with it.</summary>
    public const string DevelopmentSigningKey = "saga-development-signing-key-never-use-in-production-0123456789";

    /// <summary>An OIDC authority (its discovery document gives issuer and keys); when set, SigningKey is not used.</summary>
    public string? Authority { get; set; }

    public string Issuer { get; set; } = "saga-dev";
    public string Audience { get; set; } = "saga-api";
    public string? SigningKey { get; set; }

    public SymmetricSecurityKey? Key => SigningKey is { Length: > 0 } k ? new SymmetricSecurityKey(Encoding.UTF8.GetBytes(k)) : null;
}

/// <summary>The Api's roles, as the "role" claim of a token.</summary>
public static class Roles
{
    /// <summary>Submit transfers and read transfers and accounts.</summary>
    public const string Transfers = "transfers";

    /// <summary>Open accounts and repair transfers.</summary>
    public const string Operator = "operator";
}

/// <summary>Tokens for local use, signed with <see cref="AuthOptions.DevelopmentSigningKey"/> and nothing else.</summary>
public static class DevelopmentTokens
{
    public static string Create(string subject, IEnumerable<string> roles, TimeSpan lifetime, AuthOptions? options = null)
    {
        options ??= new AuthOptions { SigningKey = AuthOptions.DevelopmentSigningKey };
        if (options.SigningKey != AuthOptions.DevelopmentSigningKey)
        {
            throw new InvalidOperationException("Development tokens are signed with the development key only.");
        }
        var claims = new List<Claim> { new("sub", subject), new("name", subject) };
        claims.AddRange(roles.Select(r => new Claim("role", r)));
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = options.Issuer,
            Audience = options.Audience,
            Subject = new ClaimsIdentity(claims),
            Expires = DateTime.UtcNow + lifetime,
            SigningCredentials = new SigningCredentials(options.Key, SecurityAlgorithms.HmacSha256),
        });
    }
}
