//! Accounts made by others for people: one-time links that let a user set its password, and
//! invitations that grant roles once accepted (the `OS-PCU` extension, issue 11).

pub mod delivery;
pub mod invitations;
pub mod links;
pub mod password_links;
pub mod redeem;
